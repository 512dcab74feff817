// A short path: {fmt} formatters of vmsock's endpoints and GUIDs (interop/).
#pragma once

#include <vmsock/interop/fmt.hpp>
