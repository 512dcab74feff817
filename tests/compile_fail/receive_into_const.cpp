// Must NOT compile: receiving into a read-only range (a string_view).
#include <vmsock/socket/aliases.hpp>

#include <string_view>

void misuse(vmsock::tcp4_socket& s, std::string_view v) { s.receive(v); }
