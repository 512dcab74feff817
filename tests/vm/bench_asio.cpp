// bench_asio: vmsock::asio::vsock_stream against asio's own
// generic::stream_protocol over AF_VSOCK in the test guest (vsock_loopback,
// CID 1), paired in one process.  Standalone asio, C++20 coroutines.
//
// Three connections, made the same way (vmsock's connect to 1:P, each to a
// peer thread of its own that uses vmsock's synchronous sockets), differ only
// in the asio type that takes the descriptor:
//   vmsock    vmsock::asio::vsock_stream::socket (vmsock::asio::to_asio)
//   generic   asio::generic::stream_protocol::socket(AF_VSOCK, 0)
//   generic2  another generic one: the A/A control, what two identical
//             variants differ by on this machine
// Workloads (one step):
//   pingpong/1, pingpong/64   async_write N bytes, async_read the echo
//   send/65536                async_write 64 KiB to a peer that discards
//   receive/65536             async_read 64 KiB from a peer that sends
// Every iteration times one step of each variant, in a rotating order, in
// one coroutine on one io_context (all threads on vCPU 0, as bench_vsock).  A
// repetition lasts --min-time seconds; its figure per variant is the median
// step time (and the fastest step: for receive, where a step either finds its
// 64 KiB queued or waits for the peer thread, the medians may land on either
// mode and only the minima compare like with like).  The variants take turns
// with the connections from one repetition to the next.  Printed per case:
// the median over --repetitions of vmsock/generic and of generic2/generic,
// with their range, for the medians and for the minima.
//
//   bench_asio [--repetitions N] [--min-time S]      (defaults 5, 0.3)
//
// Refuses to run outside the test guest, like every program in tests/vm.
#include "guest_support.hpp"

#include <vmsock/interop/asio.hpp>
#include <vmsock/socket/aliases.hpp>

#include <asio.hpp>

#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
enum class workload { pingpong, send, receive };

// The other end of one connection, on a thread of its own.
class peer {
 public:
  peer(vmsock::vsock_listener& l, workload w) : listener_(l), thread_([this, w] { run(w); }) {}
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  ~peer() {
    listener_.cancel();  // an accept that never got its connection
    thread_.join();
  }

 private:
  // vmsock's synchronous socket on this side: the same for every variant.
  void run(workload w) noexcept {
    std::error_code ec;
    auto c = listener_.accept(ec);
    std::vector<char> buf(256 * 1024, 'p');
    while (!ec) {
      const std::size_t n = w == workload::receive ? c.send(buf.data(), 64 * 1024, ec)
                                                   : c.receive(buf.data(), buf.size(), ec);
      if (n == 0) return;  // the measured side closed
      if (!ec && w == workload::pingpong) c.send_all(buf.data(), n, ec);
    }
  }

  vmsock::vsock_listener& listener_;
  std::thread thread_;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct repetition {
  double vmsock_us = 0, generic_us = 0, generic2_us = 0;  // medians of the steps
  double vmsock_min = 0, generic_min = 0, generic2_min = 0;
  std::size_t steps = 0;
};

// One step of `w` on socket s.
template <class Socket>::asio::awaitable<void> step(Socket& s, workload w, std::vector<char>& buf) {
  switch (w) {
  case workload::pingpong:
    co_await ::asio::async_write(s, ::asio::buffer(buf), ::asio::use_awaitable);
    co_await ::asio::async_read(s, ::asio::buffer(buf), ::asio::use_awaitable);
    break;
  case workload::send:
    co_await ::asio::async_write(s, ::asio::buffer(buf), ::asio::use_awaitable);
    break;
  case workload::receive:
    co_await ::asio::async_read(s, ::asio::buffer(buf), ::asio::use_awaitable);
    break;
  }
}

// `rotation` says which connection each variant takes, so that no variant
// keeps the connection made first (whose peer thread started first).
repetition run_repetition(workload w, std::size_t size, double min_time, std::size_t rotation) {
  ::asio::io_context io;
  std::array<vmsock::vsock_listener, 3> listeners;
  std::array<vmsock::vsock_stream_socket, 3> connections;
  std::vector<std::unique_ptr<peer>> peers;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::uint32_t port = vmsock_vm::next_port();
    listeners[i] = vmsock::vsock_listener::listen(vmsock_vm::any_cid(port));
    peers.push_back(std::make_unique<peer>(listeners[i], w));
    connections[i] = vmsock::vsock_stream_socket::connect(vmsock_vm::local(port));
  }
  auto& c = connections;
  vmsock::asio::vsock_stream::socket ours = vmsock::asio::to_asio(io, std::move(c[rotation % 3]));
  const ::asio::generic::stream_protocol vsock_generic(AF_VSOCK, 0);
  ::asio::generic::stream_protocol::socket generic(io, vsock_generic,
                                                   c[(rotation + 1) % 3].release());
  ::asio::generic::stream_protocol::socket generic2(io, vsock_generic,
                                                    c[(rotation + 2) % 3].release());

  std::array<std::vector<double>, 3> us;
  for (auto& v : us) v.reserve(1 << 16);
  std::vector<char> buf(size, 'm');
  std::exception_ptr error;
  ::asio::co_spawn(
      io,
      [&]() -> ::asio::awaitable<void> {
        const auto end = clock_type::now() + std::chrono::duration<double>(min_time);
        for (std::size_t it = 0; clock_type::now() < end || it < 200; ++it) {
          for (std::size_t k = 0; k < 3; ++k) {
            const std::size_t v = (it + k + rotation) % 3;  // the order rotates
            const auto t0 = clock_type::now();
            if (v == 0)
              co_await step(ours, w, buf);
            else if (v == 1)
              co_await step(generic, w, buf);
            else
              co_await step(generic2, w, buf);
            us[v].push_back(
                std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
          }
        }
      },
      [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
  ours.close();
  generic.close();
  generic2.close();
  peers.clear();  // the peers see the closes and end
  const auto least = [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  };
  return {median(us[0]), median(us[1]), median(us[2]), least(us[0]),
          least(us[1]),  least(us[2]),  us[0].size()};
}

// A ratio over the repetitions: its median and range.
struct spread {
  double mid, lo, hi;
};
spread spread_of(const std::vector<double>& v) {
  return {median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

void print_summary(const char* name, const std::vector<repetition>& reps) {
  std::vector<double> r, c, rmin, cmin, g, gmin;
  for (const auto& x : reps) {
    r.push_back(x.vmsock_us / x.generic_us);
    c.push_back(x.generic2_us / x.generic_us);
    rmin.push_back(x.vmsock_min / x.generic_min);
    cmin.push_back(x.generic2_min / x.generic_min);
    g.push_back(x.generic_us);
    gmin.push_back(x.generic_min);
  }
  const spread a = spread_of(r), b = spread_of(c), am = spread_of(rmin), bm = spread_of(cmin);
  std::printf(
      "ratio %-14s medians: vmsock/generic %.3f (%.3f-%.3f)  generic2/generic %.3f "
      "(%.3f-%.3f)  generic step %.1f us\n",
      name, a.mid, a.lo, a.hi, b.mid, b.lo, b.hi, median(g));
  std::printf(
      "ratio %-14s minima:  vmsock/generic %.3f (%.3f-%.3f)  generic2/generic %.3f "
      "(%.3f-%.3f)  generic step %.1f us\n",
      name, am.mid, am.lo, am.hi, bm.mid, bm.lo, bm.hi, median(gmin));
}

}  // namespace

int main(int argc, char** argv) {
  if (!vmsock_vm::in_test_guest()) {
    std::fprintf(stderr,
                 "bench_asio: refusing to run: not inside vmsock's test guest (no "
                 "vmsock_test_guest=1 on the kernel command line); run it with ctest -L vm\n");
    return 2;
  }
  int repetitions = 5;
  double min_time = 0.3;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--repetitions" && i + 1 < argc) {
      repetitions = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--min-time" && i + 1 < argc) {
      min_time = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_asio [--repetitions N] [--min-time SECONDS]\n");
      return 1;
    }
  }
  ::alarm(170);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  if (::sched_setaffinity(0, sizeof one, &one) != 0) {
    std::perror("bench_asio: sched_setaffinity");
    return 1;
  }
#if !defined(__OPTIMIZE__)
  std::printf("bench_asio: NOT OPTIMIZED: the figures are meaningless\n");
#endif
  const struct {
    const char* name;
    workload w;
    std::size_t size;
  } cases[] = {{"pingpong/1", workload::pingpong, 1},
               {"pingpong/64", workload::pingpong, 64},
               {"send/65536", workload::send, 64 * 1024},
               {"receive/65536", workload::receive, 64 * 1024}};
  std::printf(
      "bench_asio: AF_VSOCK stream, CID 1, %d repetitions of %.2f s per case; "
      "step medians (us), every thread on vCPU 0\n",
      repetitions, min_time);
  try {
    for (const auto& c : cases) {
      std::vector<repetition> reps;
      for (int r = 0; r < repetitions; ++r) {
        reps.push_back(run_repetition(c.w, c.size, min_time, static_cast<std::size_t>(r)));
        const auto& x = reps.back();
        std::printf(
            "  %-14s rep %d: vmsock %8.1f  generic %8.1f  generic2 %8.1f us  (%zu steps each)\n",
            c.name, r + 1, x.vmsock_us, x.generic_us, x.generic2_us, x.steps);
      }
      print_summary(c.name, reps);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_asio: %s\n", e.what());
    return 1;
  }
  return 0;
}
