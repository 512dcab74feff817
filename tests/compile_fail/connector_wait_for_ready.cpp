// connector<Socket> makes one attempt on the one socket it holds (set up by
// its user); wait_for_ready, which needs a fresh socket per attempt, is
// refused with a message that names the forms that take it.
#include <vmsock/socket/aliases.hpp>
#include <vmsock/socket/connector.hpp>
#include <vmsock/socket/wait_for_ready.hpp>

#include <chrono>

void misuse(const vmsock::inet4_endpoint& ep) {
  auto c = vmsock::connector<vmsock::tcp4_socket>::open();
  auto s = c.connect(ep, std::chrono::seconds(5), vmsock::wait_for_ready{});
  (void)s;
}
