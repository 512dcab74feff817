// connector::open() is static: called on an object it opens nothing in that
// object, and the connect after it fails with a bad handle.  Its result must
// be used (with -Werror the warning refuses the program).
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/aliases.hpp>

#include <chrono>

void misuse(const vmsock::inet4_endpoint& ep) {
  vmsock::connector<vmsock::tcp4_socket> c;
  c.open();
  auto s = c.connect(ep, std::chrono::seconds(5));
  (void)s;
}
