// vmsock against raw syscalls and standalone asio, over TCP 127.0.0.1 and Unix
// stream sockets, in one binary.
//
// Cases (per transport):
//   pingpong/1, pingpong/64  the measured side sends N bytes and waits for the
//                            echo (send_all + receive_exact); one item = one
//                            round trip, bytes = N per round trip
//   send/65536               the measured side sends 64 KiB per iteration to a
//                            peer that reads and discards
//   receive/65536            the measured side receive_exact's 64 KiB per
//                            iteration from a peer that sends without pause
//
// Variants of the measured side, the only thing that differs:
//   raw     send(MSG_NOSIGNAL) / recv loops over short transfers, EINTR retried
//   vmsock  stream_socket::send_all / receive_exact (the throwing overloads)
//   asio    asio::write / asio::read on asio's synchronous sockets (standalone)
//
// The peer is the same raw-syscall thread for all three: it accepts on a
// listener made with raw syscalls and echoes, discards or sends.  Both sides
// set TCP_NODELAY on TCP.  Times are wall-clock (UseRealTime).
//
// benchmarks/compare.py runs this binary with repetitions and prints the
// vmsock/raw and asio/raw ratios; benchmarks/RESULTS.md holds measured figures.
#include <vmsock/config.hpp>
#include <vmsock/socket/aliases.hpp>

#if VMSOCK_BENCH_ASIO
#  include <asio.hpp>
#endif

#include <benchmark/benchmark.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "raw_io.hpp"

namespace {

using raw_io::fail_errno;
using raw_io::fd_guard;

// ---- raw syscalls: the baseline, and the peer ------------------------------

void set_no_delay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail_errno("TCP_NODELAY");
}

enum class peer_mode { echo, sink, source };

// The other end, identical for every variant: a thread that accepts one
// connection and echoes, discards or sends until the measured side closes.
class peer {
 public:
  peer(int listen_fd, peer_mode mode, bool tcp)
      : listen_fd_(listen_fd),
        thread_([this, listen_fd, mode, tcp] { run(listen_fd, mode, tcp); }) {}
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  // Wakes an accept that never got its connection (the client failed to connect).
  ~peer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
  }

 private:
  void run(int listen_fd, peer_mode mode, bool tcp) noexcept {
    const fd_guard c(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (c.get() < 0) return;
    if (tcp) {
      const int one = 1;
      ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    std::vector<char> buf(256 * 1024, 'p');
    switch (mode) {
    case peer_mode::echo:
      for (;;) {
        const ssize_t n = ::recv(c.get(), buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        try {
          raw_io::send_all(c.get(), buf.data(), static_cast<std::size_t>(n));
        } catch (...) {
          return;
        }
      }
    case peer_mode::sink:
      for (;;) {
        const ssize_t n = ::recv(c.get(), buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
      }
    case peer_mode::source:
      for (;;) {
        const ssize_t n = ::send(c.get(), buf.data(), 64 * 1024, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // EPIPE / ECONNRESET once the measured side closes
      }
    }
  }

  int listen_fd_;
  std::thread thread_;
};

// ---- transports: where the listener is and how each variant connects ---------

struct tcp_transport {
  static constexpr const char* name = "tcp";
  static constexpr bool is_tcp = true;
  fd_guard listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::uint16_t port = 0;

  tcp_transport() {
    if (listener.get() < 0) fail_errno("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail_errno("bind");
    if (::listen(listener.get(), 4) != 0) fail_errno("listen");
    socklen_t len = sizeof a;
    if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      fail_errno("getsockname");
    port = ntohs(a.sin_port);
  }

  int connect_raw() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail_errno("socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fail_errno("connect");
    }
    set_no_delay(fd);
    return fd;
  }
  vmsock::tcp4_socket connect_vmsock() const {
    auto s = vmsock::tcp4_socket::connect(vmsock::inet4_endpoint::loopback(port));
    s.set_option(vmsock::tcp_no_delay{true});
    return s;
  }
#if VMSOCK_BENCH_ASIO
  using asio_socket = asio::ip::tcp::socket;
  asio_socket connect_asio(asio::io_context& io) const {
    asio_socket s(io);
    s.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
    s.set_option(asio::ip::tcp::no_delay(true));
    return s;
  }
#endif
};

struct unix_transport {
  static constexpr const char* name = "unix";
  static constexpr bool is_tcp = false;
  std::string path;
  fd_guard listener{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};

  unix_transport() {
    static std::atomic<unsigned> counter{0};
    path = (std::filesystem::temp_directory_path() / ("vmsock-bench-" + std::to_string(::getpid()) +
                                                      "-" + std::to_string(counter++) + ".sock"))
               .string();
    if (listener.get() < 0) fail_errno("socket");
    const sockaddr_un a = address();
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      fail_errno("bind");
    if (::listen(listener.get(), 4) != 0) fail_errno("listen");
  }
  unix_transport(const unix_transport&) = delete;
  unix_transport& operator=(const unix_transport&) = delete;
  ~unix_transport() { ::unlink(path.c_str()); }

  sockaddr_un address() const {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
  }

  int connect_raw() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail_errno("socket");
    const sockaddr_un a = address();
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fail_errno("connect");
    }
    return fd;
  }
  vmsock::unix_stream_socket connect_vmsock() const {
    return vmsock::unix_stream_socket::connect(vmsock::unix_endpoint::path(path));
  }
#if VMSOCK_BENCH_ASIO
  using asio_socket = asio::local::stream_protocol::socket;
  asio_socket connect_asio(asio::io_context& io) const {
    asio_socket s(io);
    s.connect(asio::local::stream_protocol::endpoint(path));
    return s;
  }
#endif
};

// ---- the measured side: three clients with one interface ---------------------

template <class Transport> class raw_client {
 public:
  static constexpr const char* name = "raw";
  explicit raw_client(const Transport& t) : fd_(t.connect_raw()) {}
  void send_all(const void* p, std::size_t n) { raw_io::send_all(fd_.get(), p, n); }
  void receive_exact(void* p, std::size_t n) { raw_io::receive_exact(fd_.get(), p, n); }

 private:
  fd_guard fd_;
};

template <class Transport> class vmsock_client {
 public:
  static constexpr const char* name = "vmsock";
  explicit vmsock_client(const Transport& t) : s_(t.connect_vmsock()) {}
  void send_all(const void* p, std::size_t n) { s_.send_all(p, n); }
  void receive_exact(void* p, std::size_t n) { s_.receive_exact(p, n); }

 private:
  decltype(std::declval<const Transport&>().connect_vmsock()) s_;
};

#if VMSOCK_BENCH_ASIO
template <class Transport> class asio_client {
 public:
  static constexpr const char* name = "asio";
  explicit asio_client(const Transport& t) : s_(t.connect_asio(io_)) {}
  void send_all(const void* p, std::size_t n) { asio::write(s_, asio::buffer(p, n)); }
  void receive_exact(void* p, std::size_t n) { asio::read(s_, asio::buffer(p, n)); }

 private:
  asio::io_context io_;
  typename Transport::asio_socket s_;
};
#endif

// ---- the cases -------------------------------------------------------------

enum class workload { pingpong, send, receive };

constexpr peer_mode peer_for(workload w) {
  return w == workload::pingpong ? peer_mode::echo
         : w == workload::send   ? peer_mode::sink
                                 : peer_mode::source;
}

constexpr const char* workload_name(workload w) {
  return w == workload::pingpong ? "pingpong" : w == workload::send ? "send" : "receive";
}

// One iteration of a workload: what every variant does the same way.
template <class Client> inline void iteration(Client& c, workload w, char* buf, std::size_t size) {
  switch (w) {
  case workload::pingpong:
    c.send_all(buf, size);
    c.receive_exact(buf, size);
    return;
  case workload::send: c.send_all(buf, size); return;
  case workload::receive: c.receive_exact(buf, size); return;
  }
}

// A connection of one variant to its own peer thread.
template <class Transport, template <class> class Client> struct connection {
  Transport transport;
  peer other;
  Client<Transport> client;  // declared last: closed first, so the peer sees EOF or EPIPE
  explicit connection(workload w)
      : other(transport.listener.get(), peer_for(w), Transport::is_tcp), client(transport) {}
};

// The classic layout: one variant per benchmark, its repetitions interleaved
// with the others' by --benchmark_enable_random_interleaving.
template <class Transport, template <class> class Client>
void run_case(benchmark::State& state, workload w, std::size_t size) {
  try {
    connection<Transport, Client> c(w);
    std::vector<char> buf(size, 'm');
    for (auto _ : state) iteration(c.client, w, buf.data(), size);
    benchmark::DoNotOptimize(buf.data());
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// The paired layout, for a shared and noisy machine: every variant has its own
// connection and peer, all open at once; one benchmark iteration is a block of
// `block` iterations of each variant back to back (the order rotating from block
// to block), each timed on its own.  Load from elsewhere then hits a block's
// variants alike, and the median over blocks of vmsock_time / raw_time is
// reported as the counter vmsock_ratio (asio_ratio likewise), with each
// variant's median time per iteration (raw_us, vmsock_us, asio_us).
// A second raw connection is timed the same way: raw2_ratio is an A/A test,
// how far two identical variants on two connections land apart.
template <class Transport>
void run_paired(benchmark::State& state, workload w, std::size_t size, int block) {
  try {
    enum : int { raw_v, vmsock_v, raw2_v, asio_v };
    connection<Transport, raw_client> raw(w);
    connection<Transport, vmsock_client> vms(w);
    connection<Transport, raw_client> raw2(w);
#if VMSOCK_BENCH_ASIO
    connection<Transport, asio_client> asi(w);
    constexpr int variants = 4;
#else
    constexpr int variants = 3;
#endif
    std::vector<char> buf(size, 'm');
    std::vector<double> times[variants];
    std::vector<double> ratios[variants];
    unsigned rotation = 0;
    for (auto _ : state) {
      double t[variants] = {};
      for (int k = 0; k < variants; ++k) {
        const int v = static_cast<int>((rotation + static_cast<unsigned>(k)) % variants);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < block; ++i) {
          if (v == raw_v) iteration(raw.client, w, buf.data(), size);
          if (v == vmsock_v) iteration(vms.client, w, buf.data(), size);
          if (v == raw2_v) iteration(raw2.client, w, buf.data(), size);
#if VMSOCK_BENCH_ASIO
          if (v == asio_v) iteration(asi.client, w, buf.data(), size);
#endif
        }
        t[v] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                   .count();
      }
      ++rotation;
      for (int v = 0; v < variants; ++v) {
        times[v].push_back(t[v] / block);
        ratios[v].push_back(t[v] / t[raw_v]);
      }
    }
    benchmark::DoNotOptimize(buf.data());
    state.counters["raw_us"] = median(times[raw_v]);
    state.counters["vmsock_us"] = median(times[vmsock_v]);
    state.counters["vmsock_ratio"] = median(ratios[vmsock_v]);
    state.counters["raw2_ratio"] = median(ratios[raw2_v]);
#if VMSOCK_BENCH_ASIO
    state.counters["asio_us"] = median(times[asio_v]);
    state.counters["asio_ratio"] = median(ratios[asio_v]);
#endif
    state.SetItemsProcessed(state.iterations() * block * variants);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// VMSOCK_BENCH_ITERATIONS=N fixes every case's iteration count: instruction
// counts under callgrind are then repeatable, and two runs with different N give
// the cost of one iteration without the setup (see RESULTS.md).
benchmark::IterationCount fixed_iterations() {
  const char* v = std::getenv("VMSOCK_BENCH_ITERATIONS");
  return v != nullptr ? static_cast<benchmark::IterationCount>(std::strtoll(v, nullptr, 10)) : 0;
}

std::string case_name(const char* transport, workload w, std::size_t size, const char* variant) {
  return std::string(transport) + "/" + workload_name(w) + "/" + std::to_string(size) + "/" +
         variant;
}

template <class Transport, template <class> class Client>
void register_case(workload w, std::size_t size) {
  auto* b = benchmark::RegisterBenchmark(
      case_name(Transport::name, w, size, Client<Transport>::name).c_str(),
      [w, size](benchmark::State& s) { run_case<Transport, Client>(s, w, size); });
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
  if (const auto n = fixed_iterations(); n > 0) b->Iterations(n);
}

template <class Transport> void register_transport() {
  const struct {
    workload w;
    std::size_t size;
    int block;  // iterations per variant in a paired block: about 1 ms
  } cases[] = {{workload::pingpong, 1, 64},
               {workload::pingpong, 64, 64},
               {workload::send, 64 * 1024, 32},
               {workload::receive, 64 * 1024, 32}};
  for (const auto& c : cases) {
    register_case<Transport, raw_client>(c.w, c.size);
    register_case<Transport, vmsock_client>(c.w, c.size);
#if VMSOCK_BENCH_ASIO
    register_case<Transport, asio_client>(c.w, c.size);
#endif
  }
  for (const auto& c : cases) {
    const auto w = c.w;
    const auto size = c.size;
    const int block = c.block;
    benchmark::RegisterBenchmark(
        case_name(Transport::name, w, size, "paired").c_str(),
        [w, size, block](benchmark::State& s) { run_paired<Transport>(s, w, size, block); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("vmsock_version", std::to_string(VMSOCK_VERSION_MAJOR) + "." +
                                                    std::to_string(VMSOCK_VERSION_MINOR) + "." +
                                                    std::to_string(VMSOCK_VERSION_PATCH));
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  benchmark::AddCustomContext("vmsock_bench_build", "optimized, NDEBUG");
#else
  benchmark::AddCustomContext("vmsock_bench_build", "NOT OPTIMIZED: figures are meaningless");
#endif
#if VMSOCK_BENCH_ASIO
  benchmark::AddCustomContext("asio_version", std::to_string(ASIO_VERSION / 100000) + "." +
                                                  std::to_string(ASIO_VERSION / 100 % 1000) + "." +
                                                  std::to_string(ASIO_VERSION % 100));
#else
  benchmark::AddCustomContext("asio_version", "absent (no asio.hpp found): asio cases not built");
#endif
  benchmark::AddCustomContext("peer",
                              "one raw-syscall thread per case, the same for every variant");
  register_transport<tcp_transport>();
  register_transport<unix_transport>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
