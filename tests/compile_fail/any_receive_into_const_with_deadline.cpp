// Must NOT compile: any_stream_socket's pointer-and-size receive with a
// deadline refuses read-only bytes, as the typed sockets' does.
#include <vmsock/any/stream_socket.hpp>

#include <chrono>
#include <system_error>

void misuse(vmsock::any_stream_socket& s, const char* bytes, std::error_code& ec) {
  s.receive(bytes, 4, std::chrono::seconds(5), ec);
}
