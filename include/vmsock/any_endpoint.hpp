// A short path: any_endpoint, one endpoint of any family from a URI (endpoint/).
#pragma once

#include <vmsock/endpoint/any_endpoint.hpp>
