// bench_mux: `vmsock mux` against a direct AF_VSOCK connection, in the test
// guest (vsock_loopback, CID 1), paired in one run.  tool-mux.sh starts the
// muxes (TARGET vsock://1) and runs this program:
//
//   bench_mux --port P --mux NAME=UDS [--mux NAME=UDS]... [--raw-mux NAME=UDS]
//             [--mib N] [--rounds R] [--connects C] [--tcp]
//
// (`--mux NAME=` with no UDS is direct AF_VSOCK once more: an A/A control,
// whose ratio to direct shows how far two runs of the same thing differ.)
//
// A server in this program listens on vsock://any:P.  Each client names its
// workload in its first byte:
//   'T'  throughput: the client sends N MiB (256 KiB writes) and half-closes;
//        the server (a thread for the connection) counts the bytes and
//        answers with the count (8 bytes)
//   'P'  ping: the server's accepting thread echoes the byte and closes (no
//        thread is made for it: that would be most of a ping's time here)
// The clients are vmsock's own sockets, as a user's program would have them:
// vsock_stream_socket to vsock://1:P ("direct") and
// hybrid_vsock_stream_socket to hybrid-vsock://UDS:P (each mux: the Unix
// connect, "CONNECT P", the mux's own VSOCK connect, "OK n").
//
// `--raw-mux NAME=UDS` starts the raw-syscall baseline of a mux on UDS
// (benchmarks/raw_mux.hpp: blocking calls, no deadline, no cap) in a child
// process of its own, as `vmsock mux` runs in one, and measures it as one more
// mux: what two extra hops cost by themselves, beside what `vmsock mux`
// costs.
//
// `--tcp` runs the same on TCP loopback instead of VSOCK (the server on
// tcp://127.0.0.1:P, the muxes' TARGET tcp://127.0.0.1), outside the guest:
// the hops on this machine's own CPU, where a wake-up is not emulated.
//
// `--peek-client NAME=UDS` adds a client of that mux that reads the answer by
// hand with MSG_PEEK (a wait, one look, then one read of exactly the line).
// The library's client reads it the same way now (detail::read_line; it used
// to read 3 bytes, 2, then one byte at a time): the two should cost the same.
//
// Throughput: R rounds; each round runs direct and every mux once, in a
// random order (each kind's time is touched by what the one before it left
// running; a fixed order would give that to the same kind every time); MB/s is N MiB over the time
// from the first byte sent to the server's count received (the connect is not in it).  The ratio
// mux/direct is taken per round and its median printed. Connect latency: C connects per kind,
// interleaved one by one (each iteration one of each kind, in a random order), 10 ms apart;
// "connected" is the time until connect() returned (for a mux: until its OK was read), "first echo"
// adds one byte there and back through the new connection.  Medians and
// ratios of the medians printed.
//
// Lines start with MUX-BENCH, so that a log can be grepped.  Like every
// program in tests/vm it refuses to run outside the test guest.  Under TCG the
// absolute figures are an emulated CPU's; the ratios are what carry over.
#include "raw_mux.hpp"

#include <vmsock/socket/hybrid_vsock_socket.hpp>
#include <vmsock/socket/aliases.hpp>

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool tcp_mode = false;  // --tcp: TCP loopback where the guest has VSOCK

bool in_test_guest() {
  std::ifstream in("/proc/cmdline");
  std::string word;
  while (in >> word)
    if (word == "vmsock_test_guest=1") return true;
  return false;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

// ---- the server -------------------------------------------------------------------

template <class Socket> void count_bytes(Socket s) {
  try {
    static thread_local std::vector<char> buf(256 * 1024);
    std::uint64_t total = 0;
    for (;;) {
      const std::size_t n = s.receive(buf.data(), buf.size());
      if (n == 0) break;
      total += n;
    }
    s.send_all(&total, sizeof total);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "MUX-BENCH server: %s\n", e.what());
  }
}

// The accepting thread: a ping is answered here, a throughput run gets a
// thread of its own.
template <class Socket> void serve(Socket s) {
  try {
    char mode = 0;
    s.receive_exact(vmsock::mutable_buffer{&mode, 1}, 30s);
    if (mode == 'T') {
      std::thread(count_bytes<Socket>, std::move(s)).detach();
      return;
    }
    s.send_all(&mode, 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "MUX-BENCH server: %s\n", e.what());
  }
}

// ---- the clients -------------------------------------------------------------------

struct target {
  std::string name;   // "direct" or the mux's name
  std::string uds;    // empty for direct
  bool peek = false;  // the answer read with MSG_PEEK (connects only)
};

// The hybrid vsock handshake with the answer read by MSG_PEEK: never past
// its '\n', in three calls when it came whole.
vmsock::unix_stream_socket connect_peeking(const std::string& uds, std::uint32_t port) {
  const vmsock::deadline until(10s);
  auto s = vmsock::unix_stream_socket::connect(vmsock::unix_endpoint::path(uds), until);
  const std::string line = "CONNECT " + std::to_string(port) + "\n";
  s.send_all(line.data(), line.size());
  char answer[64];
  for (;;) {
    if (!s.wait_readable(until)) throw std::runtime_error("no answer from the mux");
    const std::size_t n =
        s.receive(vmsock::mutable_buffer{answer, sizeof answer}, vmsock::message_flags::peek);
    if (n == 0) throw std::runtime_error("the mux closed without an answer");
    const void* nl = std::memchr(answer, '\n', n);
    if (nl == nullptr) {
      if (n == sizeof answer) throw std::runtime_error("an answer longer than 64 bytes");
      continue;  // (a second look only when the answer came in pieces)
    }
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - answer) + 1;
    s.receive_exact(vmsock::mutable_buffer{answer, len}, until);
    if (std::strncmp(answer, "OK ", 3) != 0)
      throw std::runtime_error("the mux answered something else");
    return s;
  }
}

// `f` with a direct connection to the server's port P.
template <class F> auto with_direct(std::uint32_t port, F f) {
  if (tcp_mode) {
    auto s = vmsock::tcp4_socket::connect(
        vmsock::inet4_endpoint::loopback(static_cast<std::uint16_t>(port)), 10s);
    return f(s);
  }
  auto s = vmsock::vsock_stream_socket::connect({vmsock::vsock::cid::local, port}, 10s);
  return f(s);
}

// The raw mux's connect to port P of its target: a blocking connect(2).
int raw_connect(std::uint32_t port) {
  if (tcp_mode) {
    raw_io::fd_guard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      return -1;
    return fd.release();
  }
  raw_io::fd_guard fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_vm a{};
  a.svm_family = AF_VSOCK;
  a.svm_cid = VMADDR_CID_LOCAL;
  a.svm_port = port;
  if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    return -1;
  return fd.release();
}

// A child process serving the raw mux on `uds` until it is killed (or this
// process ends).  Called before this process starts a thread.  Returns when
// the child listens.
pid_t start_raw_mux(const std::string& uds) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) raw_io::fail_errno("pipe2");
  const pid_t pid = ::fork();
  if (pid < 0) raw_io::fail_errno("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(ready[0]);
    try {
      raw_mux::server m(uds, raw_connect);
      const char ok = 'y';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
      for (;;) ::pause();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "MUX-BENCH raw mux: %s\n", e.what());
      ::_exit(1);
    }
  }
  ::close(ready[1]);
  char ok = 0;
  const ssize_t n = ::read(ready[0], &ok, 1);
  ::close(ready[0]);
  if (n != 1) {
    ::waitpid(pid, nullptr, 0);
    throw std::runtime_error("the raw mux on " + uds + " did not start");
  }
  return pid;
}

template <class Socket> double throughput_run(Socket& s, std::size_t bytes) {
  static std::vector<char> chunk(256 * 1024, 'x');
  const auto t0 = clock_type::now();
  const char mode = 'T';
  s.send_all(&mode, 1);
  std::size_t left = bytes;
  while (left > 0) {
    const std::size_t n = std::min(left, chunk.size());
    s.send_all(chunk.data(), n);
    left -= n;
  }
  s.shutdown(vmsock::shutdown_type::send);
  std::uint64_t got = 0;
  s.receive_exact(vmsock::mutable_buffer{&got, sizeof got}, 120s);
  const double secs = seconds_since(t0);
  if (got != bytes)
    throw std::runtime_error("the server counted " + std::to_string(got) + " bytes");
  return static_cast<double>(bytes) / secs / 1e6;
}

double throughput(const target& t, std::uint32_t port, std::size_t bytes) {
  if (t.uds.empty()) return with_direct(port, [&](auto& s) { return throughput_run(s, bytes); });
  auto s = vmsock::hybrid_vsock_stream_socket::connect({t.uds, port}, 10s);
  return throughput_run(s, bytes);
}

struct latency {
  double connected = 0;   // seconds until the connection was usable
  double first_echo = 0;  // and one byte there and back
};

template <class Socket> latency ping(Socket& s, clock_type::time_point t0) {
  latency l;
  l.connected = seconds_since(t0);
  const char mode = 'P';
  s.send_all(&mode, 1);
  char back = 0;
  s.receive_exact(vmsock::mutable_buffer{&back, 1}, 10s);
  l.first_echo = seconds_since(t0);
  return l;
}

latency connect_once(const target& t, std::uint32_t port) {
  const auto t0 = clock_type::now();
  if (t.uds.empty()) return with_direct(port, [&](auto& s) { return ping(s, t0); });
  if (t.peek) {
    auto s = connect_peeking(t.uds, port);
    return ping(s, t0);
  }
  auto s = vmsock::hybrid_vsock_stream_socket::connect({t.uds, port}, 10s);
  return ping(s, t0);
}

int run(int argc, char** argv) {
  std::uint32_t port = 47000;
  std::size_t mib = 64;
  int rounds = 5;
  int connects = 200;
  std::vector<target> targets{{"direct", ""}};
  std::vector<std::pair<pid_t, std::string>> raw_muxes;  // each child and its socket file
  struct end_raw_muxes {
    std::vector<std::pair<pid_t, std::string>>& muxes;
    ~end_raw_muxes() {
      for (const auto& m : muxes) {
        ::kill(m.first, SIGKILL);
        ::waitpid(m.first, nullptr, 0);
        ::unlink(m.second.c_str());
      }
    }
  } raw_muxes_end{raw_muxes};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--port")
      port = static_cast<std::uint32_t>(std::stoul(value()));
    else if (a == "--mib")
      mib = std::stoul(value());
    else if (a == "--rounds")
      rounds = std::stoi(value());
    else if (a == "--connects")
      connects = std::stoi(value());
    else if (a == "--tcp")
      tcp_mode = true;
    else if (a == "--raw-mux") {
      const std::string v = value();
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq + 1 == v.size())
        throw std::invalid_argument("--raw-mux NAME=UDS");
      raw_muxes.emplace_back(start_raw_mux(v.substr(eq + 1)), v.substr(eq + 1));
      targets.push_back({v.substr(0, eq), v.substr(eq + 1)});
    } else if (a == "--mux" || a == "--peek-client") {
      const std::string v = value();
      const auto eq = v.find('=');
      if (eq == std::string::npos)
        throw std::invalid_argument(a + " NAME=UDS (--mux NAME= alone: direct again)");
      targets.push_back({v.substr(0, eq), v.substr(eq + 1), a == "--peek-client"});
      if (a == "--peek-client" && targets.back().uds.empty())
        throw std::invalid_argument("--peek-client needs a UDS");
    } else {
      throw std::invalid_argument("unknown argument " + a);
    }
  }
  if (targets.size() < 2) throw std::invalid_argument("give at least one --mux NAME=UDS");

  if (tcp_mode && port > 0xFFFF) throw std::invalid_argument("--tcp: a port up to 65535");
  auto accept_all = [](auto& listener) {
    for (;;) {
      std::error_code ec;
      auto s = listener.accept(ec);
      if (ec) return;
      serve(std::move(s));
    }
  };
  std::optional<vmsock::tcp4_listener> tcp_listener;
  std::optional<vmsock::vsock_listener> vsock_listener;
  if (tcp_mode) {
    tcp_listener.emplace(vmsock::tcp4_listener::listen(
        vmsock::inet4_endpoint::loopback(static_cast<std::uint16_t>(port))));
    std::thread([&] { accept_all(*tcp_listener); }).detach();
  } else {
    vsock_listener.emplace(vmsock::vsock_listener::listen({vmsock::vsock::cid::any, port}));
    std::thread([&] { accept_all(*vsock_listener); }).detach();
  }

  // Warm-up: one of each (page cache, the muxes' first threads).
  for (const auto& t : targets) {
    if (!t.peek) throughput(t, port, 4u << 20);
    connect_once(t, port);
  }

  // ---- throughput, paired by round ----
  const std::size_t bytes = mib << 20;
  std::vector<std::vector<double>> mbps(targets.size());
  std::vector<std::vector<double>> ratio(targets.size());
  std::mt19937 shuffler(12345);
  std::vector<std::size_t> order(targets.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> this_round(targets.size());
    std::shuffle(order.begin(), order.end(), shuffler);
    for (const std::size_t i : order) {
      if (targets[i].peek) continue;  // the same mux as another: connects only
      this_round[i] = throughput(targets[i], port, bytes);
      std::printf("MUX-BENCH throughput round %d %s %.1f MB/s\n", r + 1, targets[i].name.c_str(),
                  this_round[i]);
      std::fflush(stdout);
    }
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (targets[i].peek) continue;
      mbps[i].push_back(this_round[i]);
      ratio[i].push_back(this_round[i] / this_round[0]);
    }
  }

  // ---- connect latency, interleaved ----
  std::vector<std::vector<double>> connected(targets.size()), echoed(targets.size());
  for (int c = 0; c < connects; ++c) {
    std::shuffle(order.begin(), order.end(), shuffler);
    for (const std::size_t i : order) {
      const latency l = connect_once(targets[i], port);
      connected[i].push_back(l.connected * 1e6);
      echoed[i].push_back(l.first_echo * 1e6);
      // A pause, so that what one connect leaves running (a mux's relay
      // threads ending, the kernel's VSOCK close) is less in the next one's
      // time; the random order spreads what is left over every kind.
      std::this_thread::sleep_for(10ms);
    }
  }

  std::printf("MUX-BENCH summary: %zu MiB x %d rounds, %d connects per kind\n", mib, rounds,
              connects);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].peek) continue;
    const auto& m = mbps[i];
    std::printf("MUX-BENCH throughput %-8s median %7.1f MB/s (%.1f-%.1f)", targets[i].name.c_str(),
                median(m), *std::min_element(m.begin(), m.end()),
                *std::max_element(m.begin(), m.end()));
    if (i != 0)
      std::printf("  ratio to direct: median %.2f (%.2f-%.2f)", median(ratio[i]),
                  *std::min_element(ratio[i].begin(), ratio[i].end()),
                  *std::max_element(ratio[i].begin(), ratio[i].end()));
    std::printf("\n");
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::printf(
        "MUX-BENCH connect %-8s connected median %7.0f us (p90 %7.0f), first echo median %7.0f us "
        "(p90 %7.0f)",
        targets[i].name.c_str(), median(connected[i]), quantile(connected[i], 0.9),
        median(echoed[i]), quantile(echoed[i], 0.9));
    if (i != 0)
      std::printf("  ratio to direct: connected %.2f, first echo %.2f",
                  median(connected[i]) / median(connected[0]),
                  median(echoed[i]) / median(echoed[0]));
    std::printf("\n");
  }
  std::fflush(stdout);
  if (tcp_listener) tcp_listener->cancel();
  if (vsock_listener) vsock_listener->cancel();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool tcp = false;
  for (int i = 1; i < argc; ++i) tcp = tcp || std::strcmp(argv[i], "--tcp") == 0;
  if (!tcp && !in_test_guest()) {
    std::fprintf(stderr,
                 "bench_mux: refusing to run outside vmsock's test guest (no vmsock_test_guest=1 "
                 "in /proc/cmdline): AF_VSOCK may leave this machine (--tcp runs on TCP "
                 "loopback)\n");
    return 2;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "MUX-BENCH failed: %s\n", e.what());
    return 1;
  }
}
