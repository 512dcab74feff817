// vmsock against raw syscalls over AF_VSOCK stream sockets on CID 1, in one
// Google Benchmark binary that runs inside vmsock's test guest (vsock_loopback).
// The same cases as benchmarks/bench_loopback.cpp, on the transport that
// cannot be measured on the development machine:
//
//   vsock/pingpong/1, vsock/pingpong/64   the measured side sends N bytes and
//                                         waits for the echo; one item = one
//                                         round trip
//   vsock/send/65536                      64 KiB per iteration to a peer that
//                                         reads and discards
//   vsock/receive/65536                   receive_exact of 64 KiB per iteration
//                                         from a peer that sends without pause
//
// Variants of the measured side, the only thing that differs:
//   raw     send(MSG_NOSIGNAL) / recv loops over short transfers, EINTR retried
//   vmsock  vsock_stream_socket::send_all / receive_exact (throwing overloads)
// The peer is one raw-syscall thread per case, the same for both.
//
// After the runs it prints, per case, the vmsock/raw ratio of the median real
// times ("ratio" lines): what tests/vm/RESULTS.md records.  The guest runs
// under TCG emulation on the development machines, so absolute figures are
// those of an emulated CPU; the ratios are what carry over.
//
// Like every program in tests/vm it refuses to run outside the test guest.
#include "guest_support.hpp"

#include <vmsock/config.hpp>
#include <vmsock/socket.hpp>

#include <benchmark/benchmark.h>

#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void fail_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

void raw_send_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("send");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void raw_receive_exact(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) throw std::runtime_error("recv: end of stream");
      fail_errno("recv");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

sockaddr_vm vsock_address(unsigned cid, unsigned port) {
  sockaddr_vm a{};
  a.svm_family = AF_VSOCK;
  a.svm_cid = cid;
  a.svm_port = port;
  return a;
}

enum class workload { pingpong, send, receive };

// The other end: accepts one connection and echoes, discards or sends until
// the measured side closes.
class peer {
 public:
  peer(int listen_fd, workload w) : listen_fd_(listen_fd), thread_([this, w] { run(w); }) {}
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  ~peer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes an accept that never got its connection
    thread_.join();
  }

 private:
  void run(workload w) noexcept {
    const fd_guard c(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
    if (c.get() < 0) return;
    std::vector<char> buf(256 * 1024, 'p');
    for (;;) {
      ssize_t n;
      if (w == workload::receive)
        n = ::send(c.get(), buf.data(), 64 * 1024, MSG_NOSIGNAL);
      else
        n = ::recv(c.get(), buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (w == workload::pingpong) {
        try {
          raw_send_all(c.get(), buf.data(), static_cast<std::size_t>(n));
        } catch (...) {
          return;
        }
      }
    }
  }

  int listen_fd_;
  std::thread thread_;
};

// A raw listener on any:P, P fresh per case.
struct vsock_transport {
  std::uint32_t port = vmsock_vm::next_port();
  fd_guard listener{::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)};

  vsock_transport() {
    if (listener.get() < 0) fail_errno("socket(AF_VSOCK)");
    const sockaddr_vm a = vsock_address(VMADDR_CID_ANY, port);
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      fail_errno("bind");
    if (::listen(listener.get(), 4) != 0) fail_errno("listen");
  }
};

class raw_client {
 public:
  static constexpr const char* name = "raw";
  explicit raw_client(const vsock_transport& t)
      : fd_(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_.get() < 0) fail_errno("socket(AF_VSOCK)");
    const sockaddr_vm a = vsock_address(VMADDR_CID_LOCAL, t.port);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      fail_errno("connect");
  }
  void send_all(const void* p, std::size_t n) { raw_send_all(fd_.get(), p, n); }
  void receive_exact(void* p, std::size_t n) { raw_receive_exact(fd_.get(), p, n); }

 private:
  fd_guard fd_;
};

class vmsock_client {
 public:
  static constexpr const char* name = "vmsock";
  explicit vmsock_client(const vsock_transport& t)
      : s_(vmsock::vsock_stream_socket::connect(vmsock_vm::local(t.port))) {}
  void send_all(const void* p, std::size_t n) { s_.send_all(p, n); }
  void receive_exact(void* p, std::size_t n) { s_.receive_exact(p, n); }

 private:
  vmsock::vsock_stream_socket s_;
};

template <class Client>
void run_case(benchmark::State& state, workload w, std::size_t size) {
  try {
    vsock_transport t;
    const peer other(t.listener.get(), w);
    {
      Client c(t);
      std::vector<char> buf(size, 'm');
      switch (w) {
        case workload::pingpong:
          for (auto _ : state) {
            c.send_all(buf.data(), size);
            c.receive_exact(buf.data(), size);
          }
          break;
        case workload::send:
          for (auto _ : state) c.send_all(buf.data(), size);
          break;
        case workload::receive:
          for (auto _ : state) c.receive_exact(buf.data(), size);
          break;
      }
      benchmark::DoNotOptimize(buf.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

template <class Client>
void register_case(workload w, std::size_t size) {
  const char* what = w == workload::pingpong ? "pingpong" : w == workload::send ? "send" : "receive";
  const std::string name = std::string("vsock/") + what + "/" + std::to_string(size) + "/" + Client::name;
  benchmark::RegisterBenchmark(name.c_str(), [w, size](benchmark::State& s) {
    run_case<Client>(s, w, size);
  })->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// The console output as usual, plus the vmsock/raw ratios at the end (medians
// over repetitions of each case's real time per iteration).
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      if (r.error_occurred) {
        errors_ = true;
        continue;
      }
      times_[r.run_name.function_name].push_back(r.GetAdjustedRealTime());
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nvmsock/raw over AF_VSOCK CID 1 (median real time per iteration, under %s):\n",
                "the test guest's CPU, TCG-emulated on the development machines");
    for (const auto& [name, raw_times] : times_) {
      const auto slash = name.rfind("/raw");
      if (slash == std::string::npos || slash + 4 != name.size()) continue;
      const std::string base = name.substr(0, slash);
      const auto v = times_.find(base + "/vmsock");
      if (v == times_.end()) continue;
      const double raw = median(raw_times), vm = median(v->second);
      std::printf("ratio %-24s raw %10.2f us  vmsock %10.2f us  vmsock/raw %.3f\n", base.c_str(),
                  raw, vm, vm / raw);
    }
    std::fflush(stdout);
  }
  bool errors() const { return errors_; }

 private:
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  std::map<std::string, std::vector<double>> times_;
  bool errors_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!vmsock_vm::in_test_guest()) {
    std::fprintf(stderr,
                 "bench_vsock: refusing to run: not inside vmsock's test guest (no "
                 "vmsock_test_guest=1 on the kernel command line); run it with ctest -L vm\n");
    return 2;
  }
  ::alarm(200);
  benchmark::AddCustomContext("vmsock_version", std::to_string(VMSOCK_VERSION_MAJOR) + "." +
                                                    std::to_string(VMSOCK_VERSION_MINOR) + "." +
                                                    std::to_string(VMSOCK_VERSION_PATCH));
#if defined(__OPTIMIZE__)
  benchmark::AddCustomContext("vmsock_bench_build", "optimized");
#else
  benchmark::AddCustomContext("vmsock_bench_build", "NOT OPTIMIZED: figures are meaningless");
#endif
  benchmark::AddCustomContext("transport", "AF_VSOCK stream, CID 1 (vsock_loopback) in the test guest");
  benchmark::AddCustomContext("peer", "one raw-syscall thread per case, the same for both variants");
  const struct {
    workload w;
    std::size_t size;
  } cases[] = {{workload::pingpong, 1},
               {workload::pingpong, 64},
               {workload::send, 64 * 1024},
               {workload::receive, 64 * 1024}};
  for (const auto& c : cases) {
    register_case<raw_client>(c.w, c.size);
    register_case<vmsock_client>(c.w, c.size);
  }
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() ? 1 : 0;
}
