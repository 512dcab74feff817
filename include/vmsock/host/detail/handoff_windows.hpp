// The Windows hand-off: WSADuplicateSocketW's WSAPROTOCOL_INFOW for the
// target process, carried over any vmsock stream socket in a frame of its own
// (4 bytes "vmsh", its size as 4 bytes little-endian, then the bytes), and
// opened on the other side with WSASocketW(FROM_PROTOCOL_INFO, ...).
#pragma once

#include <vmsock/buffer.hpp>
#include <vmsock/config.hpp>
#include <vmsock/deadline.hpp>
#include <vmsock/error.hpp>
#include <vmsock/host/detail/handoff_common.hpp>
#include <vmsock/socket/stream_socket.hpp>

#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>

VMSOCK_BEGIN_NAMESPACE
namespace detail {

inline constexpr unsigned char handoff_magic[4] = {'v', 'm', 's', 'h'};
inline constexpr std::size_t handoff_header = 8;

template <class E, class P, class H>
void send_duplicate(stream_socket<E, P>& ch, H h, std::int64_t pid, const deadline& when,
                    std::error_code& ec) noexcept {
  constexpr std::size_t size = P::protocol_info_size;
  if (pid <= 0 || pid > 0xFFFFFFFFll) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  unsigned char frame[handoff_header + size] = {};
  for (std::size_t i = 0; i < 4; ++i) frame[i] = handoff_magic[i];
  for (std::size_t i = 0; i < 4; ++i) frame[4 + i] = static_cast<unsigned char>(size >> (8 * i));
  P::duplicate_handle(h, static_cast<std::uint32_t>(pid), frame + handoff_header, size, ec);
  if (ec) return;
  ch.send_all(const_buffer{frame, sizeof frame}, when, ec);
}

template <class Socket, class E, class P>
Socket receive_duplicate(stream_socket<E, P>& ch, const deadline& when, std::error_code& ec,
                         handoff_report& r) noexcept {
  using problem = handoff_report::problem;
  constexpr std::size_t size = P::protocol_info_size;
  const deadline limit = receive_limit(ch, when);
  unsigned char frame[handoff_header + size] = {};
  ch.receive_exact(mutable_buffer{frame, handoff_header}, limit, ec);
  if (ec) {
    if (ec == errc::end_of_stream) r.what = problem::ended;
    return Socket{};
  }
  for (std::size_t i = 0; i < 4; ++i) {
    if (frame[i] != handoff_magic[i]) {
      r.what = problem::bad_frame;
      ec = std::make_error_code(std::errc::bad_message);
      return Socket{};
    }
  }
  std::uint32_t got = 0;
  for (std::size_t i = 0; i < 4; ++i) got |= static_cast<std::uint32_t>(frame[4 + i]) << (8 * i);
  if (got != size) {
    r.what = problem::bad_size;
    r.count = got;
    r.expected = size;
    ec = std::make_error_code(std::errc::bad_message);
    return Socket{};
  }
  ch.receive_exact(mutable_buffer{frame + handoff_header, size}, limit, ec);
  if (ec) {
    if (ec == errc::end_of_stream) r.what = problem::ended;
    return Socket{};
  }
  unique_handle<P> h(P::open_duplicate(frame + handoff_header, size, ec));
  if (ec) return Socket{};
  return adopt_received<Socket, P>(std::move(h), ec, r);
}

}  // namespace detail
VMSOCK_END_NAMESPACE
