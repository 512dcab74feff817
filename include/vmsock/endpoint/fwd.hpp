// The endpoint types, declared: for the headers of the layers above that only
// name a family (a type test, an alias such as stream_socket<inet4_endpoint>)
// and so need not parse its definition.  A program that makes or reads an
// endpoint includes the family's own header.
#pragma once

#include <vmsock/config.hpp>

VMSOCK_BEGIN_NAMESPACE

struct inet4_endpoint;        // endpoint/inet.hpp
struct inet6_endpoint;        // endpoint/inet.hpp
class unix_endpoint;          // endpoint/unix.hpp
struct vsock_endpoint;        // endpoint/vsock.hpp
struct hv_endpoint;           // endpoint/hyperv.hpp
class hybrid_vsock_endpoint;  // endpoint/hybrid_vsock.hpp
class any_endpoint;           // endpoint/any_endpoint.hpp

VMSOCK_END_NAMESPACE
