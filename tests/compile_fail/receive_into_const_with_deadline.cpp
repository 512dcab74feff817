// Must NOT compile: the deadline forms of receive refuse read-only memory as
// the others do (a list holding a const buffer; const bytes by pointer).
#include <vmsock/socket/aliases.hpp>

#include <chrono>
#include <string_view>
#include <system_error>

void misuse(vmsock::tcp4_socket& s, std::string_view v, std::error_code& ec) {
  s.receive_exact({vmsock::buffer(v)}, std::chrono::seconds(5), ec);
}
