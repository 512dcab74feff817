// echo_client: connects to an echo server, times round trips of one byte, then
// sends N bytes in chunks while a second thread takes them back with
// receive_exact, checks that the checksums of what went out and what came back
// agree, and prints the throughput it saw.
//
//   echo_client URI [URI...] [--bytes N] [--chunk N] [--pings N] [--timeout MS]
//
//   URI          as for echo_server: tcp://127.0.0.1:5000, tcp://[::1]:5000,
//                unix:///tmp/echo.sock, unix://@echo, vsock://2:5000,
//                hvsock://parent/5000.  With several, they are tried in order
//                and the first that connects is used (vmsock::connect_first):
//                e.g. hvsock://parent/5000 tcp://10.0.0.1:5000.  A transport
//                this machine lacks is skipped; the client says which entry
//                won, and why the entries before it did not
//   --bytes N    bytes to echo (default 64M; K, M, G are binary multiples)
//   --chunk N    bytes per send and per receive_exact (default 64K)
//   --pings N    one-byte round trips before the bulk echo (default 1000)
//   --timeout MS connect timeout in milliseconds, per URI (default 5000)
//
// Exit codes: 0 done and the checksums agree, 1 a socket error (no URI
// connected, or the echo failed), 2 a usage or URI error, 3 the bytes that
// came back differ from those sent.
#include "echo.hpp"

#include <vmsock/socket.hpp>
#include <vmsock/uri.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

const std::string usage =
    std::string(
        "usage: echo_client URI [URI...] [--bytes N] [--chunk N] [--pings N] [--timeout MS]\n"
        "  URI: tcp://127.0.0.1:PORT, tcp://[::1]:PORT, unix:///PATH, unix://@ABSTRACT,\n"
        "       vsock://CID:PORT, hvsock://VM/SERVICE; several URIs: tried in order,\n"
        "       the first that connects is used\n") +
    std::string(examples::transfer_usage) +
    "  --timeout MS  connect timeout in milliseconds, per URI (default 5000)\n";

constexpr int exit_mismatch = 3;

struct options {
  std::vector<std::string> uris;
  examples::transfer_options transfer;
  vmsock::timeout connect_timeout{5000};
};

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (examples::parse_transfer_option(argc, argv, i, o.transfer)) {
      continue;
    } else if (a == "--timeout") {
      const std::uint64_t ms = examples::parse_size(a, examples::option_value(argc, argv, i));
      if (ms > 86400000) throw examples::usage_error("--timeout is in milliseconds, at most a day");
      o.connect_timeout = vmsock::timeout(static_cast<vmsock::timeout::rep>(ms));
    } else {
      examples::take_uri_argument(a, o.uris);
    }
  }
  if (o.uris.empty()) throw examples::usage_error("no endpoint URI given");
  return o;
}

template <class... Args> void say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print("echo_client: {}\n", fmt::format(format, std::forward<Args>(args)...));
  std::fflush(stdout);
}

struct connection {
  vmsock::any_stream_socket socket;
  std::size_t winner = 0;                       // the index of the entry that connected
  std::vector<vmsock::connect_attempt> failed;  // the entries before it, and why
};

// connect_first over the endpoints, in order, `per_attempt` each; the attempts
// before the winner come back with their reasons.  When every entry fails it
// throws connect_error, whose text lists them all.
connection connect_in_order(const std::vector<vmsock::any_endpoint>& eps,
                            vmsock::timeout per_attempt) {
  connection c;
  c.socket = vmsock::connect_first(eps, per_attempt, c.failed);
  c.winner = c.failed.size();
  return c;
}

int run(const std::vector<vmsock::any_endpoint>& where, const options& o) {
  connection c = connect_in_order(where, o.connect_timeout);
  auto& s = c.socket;
  const std::size_t n = where.size();
  for (std::size_t i = 0; i < c.failed.size(); ++i) {
    const auto& a = c.failed[i];
    say("entry {} of {}, {}: {}{}", i + 1, n, a.endpoint.to_string(), a.skipped ? "skipped: " : "",
        a.error.message());
  }
  const std::string local = examples::describe(s.local_endpoint());
  if (n == 1)
    say("connected to {} from {}", s.remote().to_string(), local);
  else
    say("connected to {} over {} (entry {} of {}) from {}", s.remote().to_string(),
        vmsock::to_string(s.scheme()), c.winner + 1, n, local);

  if (o.transfer.pings != 0) {
    const double rtt = examples::ping_pong(s, o.transfer.pings);
    say("{} round trips of 1 byte: {:.1f} us each", o.transfer.pings, rtt * 1e6);
  }

  const examples::echo_result r = examples::echo_bulk(s, o.transfer.bytes, o.transfer.chunk);
  say("echoed {} in {} chunk{} of {}: checksum sent {:016x}, received {:016x}: {}",
      examples::human_bytes(r.bytes), r.chunks, r.chunks == 1 ? "" : "s",
      examples::human_bytes(o.transfer.chunk), r.sent_sum, r.received_sum,
      r.ok() ? "match" : "MISMATCH");
  say("{:.3f} s, {:.1f} MB/s each way (1 MB = 10^6 bytes)", r.seconds, r.megabytes_per_second());
  return r.ok() ? 0 : exit_mismatch;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("echo_client", usage, argc, argv, [&] {
    const options o = parse_options(argc, argv);
    return run(examples::parse_stream_uris(o.uris), o);
  });
}
