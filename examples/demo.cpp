// demo: the README's demo command (cmake --workflow --preset demo).  In one
// process and on loopback only, an echo server and its client run over TCP (127.0.0.1 and ::1,
// ports the OS picks), a Unix socket file in the temp directory and a Linux abstract Unix name;
// each run times one-byte round trips, echoes a checksummed bulk transfer and prints what it did
// and the throughput it saw.
//
//   demo [--bytes N] [--chunk N] [--pings N]
//
// Exit code 0 when every run passed (a transport this machine lacks, such as
// IPv6, is skipped with a message), 1 otherwise, 2 for a usage error.
#include "echo.hpp"

#include <vmsock/any_endpoint.hpp>
#include <vmsock/config.hpp>
#include <vmsock/fmt.hpp>
#include <vmsock/socket.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

const std::string usage =
    "usage: demo [--bytes N] [--chunk N] [--pings N]\n" + std::string(examples::transfer_usage);

examples::transfer_options parse_options(int argc, char** argv) {
  examples::transfer_options o;
  for (int i = 1; i < argc; ++i)
    if (!examples::parse_transfer_option(argc, argv, i, o))
      throw examples::usage_error("unknown argument " + std::string(argv[i]));
  return o;
}

struct run_summary {
  std::string uri;
  std::string outcome;  // "passed", "skipped: ...", "FAILED: ..."
  double rtt_us = 0;
  double mb_per_s = 0;
};

template <class... Args> void say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print("{}\n", fmt::format(format, std::forward<Args>(args)...));
  std::fflush(stdout);
}

// Errors that mean "this machine has no such transport", not "vmsock failed".
bool transport_missing(const std::error_code& ec) {
  return ec == std::errc::address_family_not_supported || ec == std::errc::address_not_available ||
         ec == std::errc::protocol_not_supported;
}

template <class Endpoint>
run_summary run(const Endpoint& where, const examples::transfer_options& o) {
  run_summary sum;
  sum.uri = vmsock::any_endpoint(where).to_string();
  std::error_code ec;
  auto l = vmsock::listener<Endpoint>::listen(where, ec);
  if (ec && transport_missing(ec)) {
    sum.outcome = fmt::format("skipped: {} ({})", ec.message(), sum.uri);
    say("{}\n  skipped: this machine cannot listen there: {}\n", sum.uri, ec.message());
    return sum;
  }
  try {
    if (ec) l = vmsock::listener<Endpoint>::listen(where);  // throws the library's message
    sum.uri = vmsock::any_endpoint(l.local_endpoint()).to_string();
    say("{}", sum.uri);

    // The server: one connection, echoed until the client half-closes.
    std::string server_report;
    std::thread server([&] {
      try {
        Endpoint peer{};
        auto s = l.accept(vmsock::timeout(10000), peer);
        const std::string from = examples::describe(peer);
        const std::uint64_t n = examples::echo_connection(s);
        server_report = fmt::format("server: echoed {} back to {}", examples::human_bytes(n), from);
      } catch (const std::exception& e) {
        server_report = fmt::format("server: FAILED: {}", e.what());
      }
    });
    struct joiner {
      std::thread& t;
      ~joiner() {
        if (t.joinable()) t.join();
      }
    } join_server{server};

    auto s = vmsock::stream_socket<Endpoint>::connect(l.local_endpoint(), vmsock::timeout(5000));
    const std::string local = examples::describe(s.local_endpoint());
    say("  client: connected from {}", local);
    if (o.pings != 0) {
      sum.rtt_us = examples::ping_pong(s, o.pings) * 1e6;
      say("  client: {} round trips of 1 byte, {:.1f} us each", o.pings, sum.rtt_us);
    }
    const auto r = examples::echo_bulk(s, o.bytes, o.chunk);
    sum.mb_per_s = r.megabytes_per_second();
    say("  client: echoed {} in {} chunks of {}: {:.3f} s, {:.1f} MB/s each way, checksums {} "
        "({:016x})",
        examples::human_bytes(r.bytes), r.chunks, examples::human_bytes(o.chunk), r.seconds,
        sum.mb_per_s, r.ok() ? "match" : "DIFFER", r.received_sum);
    s.close();
    server.join();
    say("  {}\n", server_report);
    if (!r.ok())
      sum.outcome = "FAILED: the bytes that came back differ from those sent";
    else if (server_report.find("FAILED") != std::string::npos)
      sum.outcome = "FAILED: the server side failed";
    else
      sum.outcome = "passed";
  } catch (const std::exception& e) {
    say("  FAILED: {}\n", e.what());
    sum.outcome = fmt::format("FAILED: {}", e.what());
  }
  return sum;
}

int demo(const examples::transfer_options& o) {
  std::random_device rd;
  const std::uint32_t tag = rd();
  namespace fs = std::filesystem;
  const fs::path socket_file =
      fs::temp_directory_path() / fmt::format("vmsock-demo-{:08x}.sock", tag);

  say("vmsock {}.{}.{} demo: an echo server and its client in one process, over loopback only.",
      VMSOCK_VERSION_MAJOR, VMSOCK_VERSION_MINOR, VMSOCK_VERSION_PATCH);
  say("Each run: {} round trips of 1 byte, then {} echoed in chunks of {} (one thread sends,",
      o.pings, examples::human_bytes(o.bytes), examples::human_bytes(o.chunk));
  say("the other takes the echo back with receive_exact), checksummed both ways.\n");

  std::vector<run_summary> runs;
  runs.push_back(run(vmsock::inet4_endpoint::loopback(0), o));
  runs.push_back(run(vmsock::inet6_endpoint::loopback(0), o));
  runs.push_back(run(vmsock::unix_endpoint::path(socket_file.string()), o));
  {
    std::error_code ignored;
    fs::remove(socket_file, ignored);
  }
#if VMSOCK_LINUX
  runs.push_back(run(vmsock::unix_endpoint::abstract(fmt::format("vmsock-demo-{:08x}", tag)), o));
#endif

  int passed = 0, skipped = 0, failed = 0;
  say("{:<48} {:>12} {:>16}  {}", "endpoint", "round trip", "echo throughput", "result");
  for (const auto& r : runs) {
    const bool ok = r.outcome == "passed";
    const bool skip = r.outcome.rfind("skipped", 0) == 0;
    passed += ok;
    skipped += skip;
    failed += !ok && !skip;
    if (ok)
      say("{:<48} {:>9.1f} us {:>10.1f} MB/s  {}", r.uri, r.rtt_us, r.mb_per_s, r.outcome);
    else
      say("{:<48} {:>12} {:>16}  {}", r.uri, "-", "-", r.outcome);
  }
  say("\n{} passed, {} skipped, {} failed (1 MB = 10^6 bytes; throughput counts each byte once,"
      " though it crossed the socket twice)",
      passed, skipped, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("demo", usage, argc, argv,
                                [&] { return demo(parse_options(argc, argv)); });
}
