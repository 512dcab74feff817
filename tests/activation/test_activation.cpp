// Socket activation (systemd.hpp) against a peer nobody here wrote: Debian's
// systemd-socket-activate (systemd 252) listens on TCP and Unix sockets, waits
// for the first connection, sets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES and
// execs vmsock_activated, which adopts the sockets and greets a connection on
// each.  Its -E option sets the variables wrong (another LISTEN_PID, a
// LISTEN_FDS larger than what it passes), and a shell between it and the
// program makes LISTEN_PID another process's: vmsock's errors are checked.
// Every run is bounded (a child that hangs is killed after 30 s).
#include <vmsock/socket/aliases.hpp>
#include <vmsock/host/systemd.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef VMSOCK_ACTIVATED
#  error "VMSOCK_ACTIVATED: the path of vmsock_activated"
#endif
#ifndef VMSOCK_SYSTEMD_SOCKET_ACTIVATE
#  define VMSOCK_SYSTEMD_SOCKET_ACTIVATE ""
#endif

namespace {

using namespace std::chrono_literals;
using namespace vmsock;

const std::string ssa = VMSOCK_SYSTEMD_SOCKET_ACTIVATE;

// A path of this run's own: process ids come round again (pid_max is 32768
// here), and a file an earlier run left under the same name must never pass
// for this run's.
std::string unique(const char* what) {
  static std::atomic<int> n{0};
  static const auto stamp =
      std::chrono::steady_clock::now().time_since_epoch().count() % 1000000000;
  return std::string("/tmp/vmsock-activation-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(stamp) + "-" + std::to_string(n++);
}

// A TCP port that was free a moment ago (systemd-socket-activate refuses port
// 0), below the range the kernel hands out for connect(), so that the
// connections of other tests running at the same time cannot take it.
std::uint16_t free_port() {
  unsigned low = 32768;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%u", &low) != 1) low = 32768;
    std::fclose(f);
  }
  if (low < 4096) low = 32768;
  static unsigned next = static_cast<unsigned>(::getpid()) * 7919u;
  for (int tries = 0; tries < 200; ++tries) {
    const auto port = static_cast<std::uint16_t>(2048 + (next++ * 104729u) % (low - 2048));
    std::error_code ec;
    auto l = tcp4_listener::listen(inet4_endpoint::loopback(port), ec);
    if (!ec) return port;
  }
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  return l.local_endpoint().port;
}

// A run of systemd-socket-activate with `args`, its output in a log file.
struct run {
  pid_t pid = -1;
  std::string log;
  std::string report;

  int wait() {
    for (int i = 0; i < 3000; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
    return 999;
  }
  ~run() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::unlink(log.c_str());
    ::unlink(report.c_str());
  }
  std::string read(const std::string& path) const {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string output() const { return read(log); }
  std::string lines() const { return read(report); }
};

run start(const std::vector<std::string>& args) {
  run r;
  r.log = unique("log");
  r.report = unique("report");
  r.pid = ::fork();
  if (r.pid == 0) {
    const int fd = ::open(r.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return r;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Connects (retrying while systemd-socket-activate is not listening yet);
// a failure shows what systemd-socket-activate said.  A connection that
// started the program counts even when it failed: a program that exits
// without accepting resets it, perhaps before connect() has seen it complete.
template <class Socket, class Endpoint> Socket connect_retrying(const Endpoint& ep, const run& r) {
  std::error_code ec;
  for (int i = 0; i < 500; ++i) {
    auto s = Socket::connect(ep, 2s, ec);
    if (!ec) return s;
    if (has(r.output(), "Execing ")) return Socket{};
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << "cannot connect to " << ep.to_string() << ": " << ec.message()
                << "\nsystemd-socket-activate said:\n"
                << r.output();
  return Socket{};
}

std::string greeting(stream_socket<inet4_endpoint>& s) {
  std::string out;
  char c = 0;
  std::error_code ec;
  while (out.size() < 200 && s.receive(mutable_buffer{&c, 1}, 20s, ec) == 1 && c != '\n') out += c;
  return out;
}
std::string greeting(unix_stream_socket& s) {
  std::string out;
  char c = 0;
  std::error_code ec;
  while (out.size() < 200 && s.receive(mutable_buffer{&c, 1}, 20s, ec) == 1 && c != '\n') out += c;
  return out;
}

#define VMSOCK_NEED_SSA()                                                                  \
  do {                                                                                     \
    if (ssa.empty() || ::access(ssa.c_str(), X_OK) != 0) {                                 \
      /* CI (VMSOCK_REQUIRE_SUITES) installs it: there a missing peer fails. */            \
      if (std::getenv("VMSOCK_REQUIRE_SUITES"))                                            \
        FAIL() << "systemd-socket-activate is not installed (Debian: apt-get install "     \
                  "systemd) and VMSOCK_REQUIRE_SUITES is set";                             \
      GTEST_SKIP() << "systemd-socket-activate is not installed (Debian: apt-get install " \
                      "systemd)";                                                          \
    }                                                                                      \
  } while (false)

// systemd-socket-activate, then the program with a report file of its own.
run start_program(std::vector<std::string> ssa_args, std::vector<std::string> program_args,
                  bool through_shell = false) {
  const std::string report = unique("report");
  std::vector<std::string> args;
  args.push_back(ssa);
  for (auto& a : ssa_args) args.push_back(a);
  if (through_shell) {
    // A shell that forks the program: LISTEN_PID is the shell's.
    std::string line = std::string(VMSOCK_ACTIVATED) + " " + report;
    for (auto& a : program_args) line += " " + a;
    line += "; exit $?";
    args.push_back("/bin/sh");
    args.push_back("-c");
    args.push_back(line);
  } else {
    args.push_back(VMSOCK_ACTIVATED);
    args.push_back(report);
    for (auto& a : program_args) args.push_back(a);
  }
  run r = start(args);
  r.report = report;
  return r;
}

TEST(Activation, SystemdListenersAdoptsTcpAndUnix) {
  VMSOCK_NEED_SSA();
  const std::uint16_t port = free_port();
  const std::string path = unique("sock");
  run r = start_program({"-l", "127.0.0.1:" + std::to_string(port), "-l", path, "--fdname=web:ctl"},
                        {"all"});
  // The first connection makes systemd-socket-activate exec the program.
  auto tcp = connect_retrying<tcp4_socket>(inet4_endpoint{{127, 0, 0, 1}, port}, r);
  auto unix_c = connect_retrying<unix_stream_socket>(unix_endpoint::path(path), r);
  EXPECT_EQ(greeting(tcp), "hello from activation");
  EXPECT_EQ(greeting(unix_c), "hello from activation");
  EXPECT_EQ(r.wait(), 0) << r.output() << r.lines();
  const std::string report = r.lines();
  EXPECT_TRUE(has(report, "listeners 2\n")) << report;
  EXPECT_TRUE(has(report, "local tcp://127.0.0.1:" + std::to_string(port) + "\n")) << report;
  EXPECT_TRUE(has(report, "local unix://" + path + "\n")) << report;
  // sd_listen_fds(1): the variables are gone, the descriptors close-on-exec.
  EXPECT_TRUE(has(report, "env LISTEN_PID unset\nenv LISTEN_FDS unset\nenv LISTEN_FDNAMES unset"))
      << report;
  EXPECT_TRUE(has(report, "cloexec 3 1\ncloexec 4 1\n")) << report;
  EXPECT_TRUE(has(r.output(), "Listening on 127.0.0.1:" + std::to_string(port) + " as 3."))
      << r.output();
  ::unlink(path.c_str());
}

TEST(Activation, TypedListenersByName) {
  VMSOCK_NEED_SSA();
  const std::uint16_t port = free_port();
  const std::string path = unique("sock");
  run r = start_program({"-l", path, "-l", "127.0.0.1:" + std::to_string(port), "--fdname=ctl:web"},
                        {"typed", "web", "tcp4", "ctl", "unix"});
  auto unix_c = connect_retrying<unix_stream_socket>(unix_endpoint::path(path), r);
  auto tcp = connect_retrying<tcp4_socket>(inet4_endpoint{{127, 0, 0, 1}, port}, r);
  EXPECT_EQ(greeting(tcp), "hello from tcp://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(greeting(unix_c), "hello from unix://" + path);
  EXPECT_EQ(r.wait(), 0) << r.output() << r.lines();
  const std::string report = r.lines();
  EXPECT_TRUE(has(report, "passed 2\nname ctl\nname web\n")) << report;
  EXPECT_TRUE(has(report, "untaken 0")) << report;
  ::unlink(path.c_str());
}

// A connection to a listener the program takes as something it is not.
std::string take_wrong(const std::vector<std::string>& ssa_args, const std::string& name,
                       const std::string& kind, bool unix_trigger, const std::string& path,
                       std::uint16_t port) {
  run r = start_program(ssa_args, {"take-wrong", name, kind});
  if (unix_trigger)
    connect_retrying<unix_stream_socket>(unix_endpoint::path(path), r);
  else
    connect_retrying<tcp4_socket>(inet4_endpoint{{127, 0, 0, 1}, port}, r);
  EXPECT_EQ(r.wait(), 0) << r.output() << r.lines();
  return r.lines();
}

TEST(Activation, ADescriptorOfAnotherKindIsRefusedNamingBoth) {
  VMSOCK_NEED_SSA();
  const std::uint16_t port = free_port();
  const std::string path = unique("sock");
  std::string report = take_wrong({"-l", "127.0.0.1:" + std::to_string(port), "--fdname=web"},
                                  "web", "unix", false, path, port);
  EXPECT_TRUE(
      has(report,
          "error socket activation: descriptor 3 (\"web\") is a listening IPv4 stream socket, "
          "not a listening Unix stream socket: "))
      << report;
  EXPECT_TRUE(has(report, "code 4 vmsock")) << "address_family_mismatch; " << report;

  report = take_wrong({"-l", path, "--fdname=ctl"}, "ctl", "seqpacket", true, path, port);
  EXPECT_TRUE(
      has(report, "is a listening Unix stream socket, not a listening Unix seqpacket socket"))
      << report;
  ::unlink(path.c_str());

  const std::uint16_t other = free_port();
  report = take_wrong({"-l", "127.0.0.1:" + std::to_string(other), "--fdname=web"}, "agent",
                      "vsock", false, path, other);
  EXPECT_TRUE(has(report,
                  "error socket activation: no untaken descriptor named \"agent\" (passed: "
                  "\"web\"): "))
      << report;
}

// The errors: run the program in "error" mode and return its report.
std::string activation_error(const std::vector<std::string>& ssa_args, std::uint16_t port,
                             bool through_shell = false) {
  run r = start_program(ssa_args, {"error"}, through_shell);
  auto c = connect_retrying<tcp4_socket>(inet4_endpoint{{127, 0, 0, 1}, port}, r);
  EXPECT_EQ(r.wait(), 0) << r.output() << r.lines();
  return r.lines();
}

TEST(Activation, WrongPidIsRefused) {
  VMSOCK_NEED_SSA();
  std::uint16_t port = free_port();
  // systemd-socket-activate -E sets the variable after its own.
  std::string report =
      activation_error({"-l", "127.0.0.1:" + std::to_string(port), "-E", "LISTEN_PID=1"}, port);
  EXPECT_TRUE(
      has(report, "error systemd_listeners: LISTEN_PID=1 names another process (this one is "))
      << report;
  EXPECT_TRUE(
      has(report, "): the sockets were passed to that process, not to this one: Invalid argument"))
      << report;
  EXPECT_TRUE(has(report, "env LISTEN_PID unset")) << "unset all the same; " << report;
  // A shell that forks the program: the sockets are the shell's.
  port = free_port();
  report = activation_error({"-l", "127.0.0.1:" + std::to_string(port)}, port, true);
  EXPECT_TRUE(has(report, "names another process (this one is ")) << report;
}

TEST(Activation, WrongCountsAreRefused) {
  VMSOCK_NEED_SSA();
  std::uint16_t port = free_port();
  // One socket passed, five announced: descriptor 4 is not open.
  std::string report =
      activation_error({"-l", "127.0.0.1:" + std::to_string(port), "-E", "LISTEN_FDS=5"}, port);
  EXPECT_TRUE(has(report,
                  "error systemd_listeners: descriptor 4 (\"unknown\") is not open "
                  "(LISTEN_FDS=5): Bad file descriptor"))
      << report;
  // Not a number.
  port = free_port();
  report =
      activation_error({"-l", "127.0.0.1:" + std::to_string(port), "-E", "LISTEN_FDS=two"}, port);
  EXPECT_TRUE(has(report,
                  "error systemd_listeners: LISTEN_FDS=\"two\" is not a count of descriptors "
                  "(a decimal number): Invalid argument"))
      << report;
  // Three names for one descriptor (systemd-socket-activate warns and passes them).
  port = free_port();
  report = activation_error({"-l", "127.0.0.1:" + std::to_string(port), "--fdname=a:b:c"}, port);
  EXPECT_TRUE(has(report,
                  "error systemd_listeners: LISTEN_FDNAMES=\"a:b:c\" names 3 descriptors, "
                  "LISTEN_FDS=1 passes 1: Invalid argument"))
      << report;
}

TEST(Activation, ADatagramSocketIsNotAListener) {
  VMSOCK_NEED_SSA();
  const std::uint16_t port = free_port();
  run r = start_program({"-d", "-l", "127.0.0.1:" + std::to_string(port)}, {"error"});
  // A datagram is the "communication attempt" that starts the program.
  auto u = udp4_socket::open(inet4_endpoint::loopback(0));
  for (int i = 0; i < 100; ++i) {
    std::error_code ec;
    u.send_to(std::string_view("x"), inet4_endpoint{{127, 0, 0, 1}, port}, ec);
    std::this_thread::sleep_for(50ms);
    if (has(r.output(), "Execing")) break;
  }
  EXPECT_EQ(r.wait(), 0) << r.output() << r.lines();
  EXPECT_TRUE(has(r.lines(),
                  "error systemd_listeners: descriptor 3 (\"unknown\") is an IPv4 datagram "
                  "socket; an any_listener takes listening stream sockets"))
      << r.lines();
}

TEST(Activation, WithoutActivationTheSetIsEmptyAndTheListenersAnError) {
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  auto passed = systemd_sockets::from_environment();
  EXPECT_FALSE(passed.activated());
  EXPECT_EQ(passed.size(), 0u);
  std::error_code ec;
  std::string why;
  auto all = systemd_listeners(ec, &why);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
  EXPECT_EQ(why, "LISTEN_FDS is not set: the process was not socket-activated");
  passed.take<tcp4_listener>("web", ec, &why);
  EXPECT_EQ(why,
            "no untaken descriptor named \"web\" (LISTEN_FDS is not set: the process was not "
            "socket-activated)");
  // Set by hand, in this process: the checks without systemd-socket-activate.
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "0", 1);
  auto none = systemd_sockets::from_environment(ec, &why);
  EXPECT_FALSE(ec) << why;
  EXPECT_TRUE(none.activated());
  EXPECT_EQ(std::getenv("LISTEN_PID"), nullptr);
  ::setenv("LISTEN_FDS", "1", 1);
  systemd_sockets::from_environment(ec, &why);
  EXPECT_EQ(why, "LISTEN_FDS is set but LISTEN_PID is not");
  ::setenv("LISTEN_PID", "0x10", 1);
  ::setenv("LISTEN_FDS", "1", 1);
  systemd_sockets::from_environment(ec, &why);
  EXPECT_EQ(why, "LISTEN_PID=\"0x10\" is not a process id");
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "5000", 1);
  systemd_sockets::from_environment(ec, &why);
  EXPECT_EQ(why, "LISTEN_FDS=5000 is more descriptors than 4096");
  // Kept when asked (unset_environment = false).
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "0", 1);
  systemd_sockets::from_environment(ec, &why, false);
  EXPECT_NE(std::getenv("LISTEN_FDS"), nullptr);
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
}

}  // namespace
