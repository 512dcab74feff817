// The paired test programs' shared part (see nested_support.hpp): the control
// connection that keeps the two sides in step, ports, child processes, and
// main().
#include "nested_support.hpp"

#include <vmsock/socket/listener.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace vmsock_nested {
namespace {

side g_side = side::host;
unsigned g_case = 0;
const char* g_program = "";
// What this side said first (HELLO), said again to a restarted guest side:
// its program is then where this one was when it said it.
std::string g_hello;

std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? std::string(info->test_suite_name()) + "." + info->name() : std::string("(none)");
}

// The control connection and the state of the running test.
class control_channel {
 public:
  bool open() const { return s_.is_open() && broken_.empty(); }
  const std::string& broken() const { return broken_; }

  // Host: listen on `port` and take the guest's connection (a new one, in
  // place of a connection the guest's restart broke).
  void accept_from_guest(std::uint32_t port, std::chrono::milliseconds limit) {
    auto l = vmsock::vsock_listener::listen(any_port(port));
    vmsock::vsock_endpoint peer;
    std::error_code ec;
    s_ = l.accept(limit, peer, ec);
    buf_.clear();
    broken_.clear();
    if (ec)
      throw std::runtime_error("control: the guest side never connected to vsock://any:" +
                               std::to_string(port) + " within " + seconds(limit) + " (" +
                               ec.message() + "): is the inner guest up, is its program running?");
    if (peer.cid != guest_cid)
      throw std::runtime_error("control: connection from " + peer.to_string() +
                               ", not from the guest (CID 3)");
  }

  // Guest: connect to the host's control port, retrying while its program
  // starts (nothing listening yet: the host answers with a reset).
  void connect_to_host(std::uint32_t port, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    std::error_code ec;
    for (;;) {
      s_ = vmsock::vsock_stream_socket::connect({host_cid, port}, 2s, ec);
      if (!ec) return;
      if (std::chrono::steady_clock::now() > until) break;
      std::this_thread::sleep_for(200ms);
    }
    throw std::runtime_error(
        "control: cannot reach the host side at vsock://2:" + std::to_string(port) + " within " +
        seconds(limit) + ": " + ec.message());
  }

  void send_line(const std::string& line) {
    std::error_code ec;
    const std::string l = line + "\n";
    s_.send_all(l.data(), l.size(), ec);
    if (ec)
      fail("control: sending to the " + std::string(name_of(other(g_side))) +
           " side failed: " + ec.message());
  }

  std::string read_line(std::chrono::milliseconds limit, const std::string& waiting_for) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      std::error_code ec;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left <= 0ms || !s_.wait_readable(left, ec)) {
        fail("control: the " + std::string(name_of(other(g_side))) + " side did not reach " +
             waiting_for + " within " + seconds(limit) +
             (ec ? " (" + ec.message() + ")" : std::string()));
      }
      char chunk[512];
      const std::size_t n = s_.receive(chunk, sizeof chunk, ec);
      if (ec || n == 0)
        fail("control: the " + std::string(name_of(other(g_side))) +
             " side closed the control connection (" + (ec ? ec.message() : "EOF") +
             ") while this side waited for " + waiting_for);
      buf_.append(chunk, n);
    }
  }

  [[noreturn]] void fail(const std::string& why) {
    broken_ = why;
    throw std::runtime_error(why);
  }

  // The running test.
  std::string test;
  bool peer_ended = false;
  std::string peer_verdict;

 private:
  static std::string seconds(std::chrono::milliseconds t) {
    return std::to_string(t.count() / 1000) + " s";
  }

  vmsock::vsock_stream_socket s_;
  std::string buf_;
  std::string broken_;
};

control_channel& control() {
  static control_channel c;
  return c;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The tests this run will do, in order, as one line (both sides must agree).
std::string planned_tests() {
  std::string all;
  const auto& u = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < u.total_test_suite_count(); ++i) {
    const auto& suite = *u.GetTestSuite(i);
    for (int j = 0; j < suite.total_test_count(); ++j) {
      const auto& t = *suite.GetTestInfo(j);
      if (t.should_run())
        all += std::string(all.empty() ? "" : ",") + suite.name() + "." + t.name();
    }
  }
  return all;
}

std::uint32_t control_port() { return 9000 + g_case; }

// Both sides say which program and tests they run; false (and why, on
// stderr) when they differ.
bool exchange_hello(control_channel& c) {
  if (g_hello.empty()) g_hello = std::string("HELLO ") + g_program + " " + planned_tests();
  const std::string& mine = g_hello;
  c.send_line(mine);
  const std::string theirs = c.read_line(60s, "HELLO");
  if (theirs == mine) return true;
  std::fprintf(stderr, "%s: the two sides would run different tests:\n  %s: %s\n  %s: %s\n",
               g_program, name_of(g_side), mine.c_str(), name_of(other(g_side)), theirs.c_str());
  return false;
}

void exchange_begin(control_channel& c, std::chrono::milliseconds limit) {
  c.send_line("BEGIN " + c.test);
  const std::string line = c.read_line(limit, "the start of " + c.test);
  if (line != "BEGIN " + c.test)
    c.fail("control: out of step: this side begins " + c.test + ", the " + name_of(other(g_side)) +
           " side sent '" + line + "'");
}

}  // namespace

side this_side() { return g_side; }

bool restarted_boot() {
  std::ifstream f("/proc/cmdline");
  const std::string cmdline((std::istreambuf_iterator<char>(f)), {});
  return cmdline.find("vmsock_run_from=") != std::string::npos;
}

void await_restarted_guest(std::chrono::milliseconds limit) {
  if (g_side != side::host) throw std::logic_error("await_restarted_guest: on the host side only");
  auto& c = control();
  c.accept_from_guest(control_port(), limit);
  if (!exchange_hello(c)) c.fail("control: the restarted guest side runs other tests");
  exchange_begin(c, limit);
}

std::uint32_t port(unsigned k) {
  if (k >= 32) throw std::logic_error("vmsock_nested::port: at most 32 ports per test");
  const auto& u = *::testing::UnitTest::GetInstance();
  const auto* current = u.current_test_info();
  unsigned ordinal = 0;
  for (int i = 0; i < u.total_test_suite_count(); ++i) {
    const auto& suite = *u.GetTestSuite(i);
    for (int j = 0; j < suite.total_test_count(); ++j, ++ordinal) {
      if (suite.GetTestInfo(j) == current) return 10000 + ordinal * 32 + k;
    }
  }
  throw std::logic_error("vmsock_nested::port: called outside a test");
}

std::string meet(const std::string& point, const std::string& mine,
                 std::chrono::milliseconds limit) {
  auto& c = control();
  if (!c.open()) throw std::runtime_error("no control connection: " + c.broken());
  if (mine.find('\n') != std::string::npos) throw std::logic_error("meet: one line only");
  c.send_line("AT " + point + " " + mine);
  const std::string line = c.read_line(limit, "meeting point '" + point + "'");
  if (starts_with(line, "END ")) {
    c.peer_ended = true;
    c.peer_verdict = line.substr(line.rfind(' ') + 1);
    throw std::runtime_error("the " + std::string(name_of(other(g_side))) + " side ended " +
                             c.test + " (" + c.peer_verdict + ") before meeting point '" + point +
                             "'");
  }
  const std::string want = "AT " + point + " ";
  if (!starts_with(line, want))
    c.fail("control: out of step: this side is at '" + point + "', the " + name_of(other(g_side)) +
           " side sent '" + line + "'");
  return line.substr(want.size());
}

std::uint64_t meet_number(const std::string& point, std::uint64_t mine) {
  const std::string theirs = meet(point, std::to_string(mine));
  return std::stoull(theirs);
}

void paired_test::SetUp() {
  auto& c = control();
  c.test = current_test_name();
  c.peer_ended = false;
  c.peer_verdict.clear();
  ASSERT_TRUE(c.open()) << "no control connection to the other side: " << c.broken();
  try {
    exchange_begin(c, 150s);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
}

void paired_test::TearDown() {
  auto& c = control();
  if (!c.open()) return;
  try {
    c.send_line("END " + c.test + (HasFailure() ? " FAIL" : " PASS"));
    while (!c.peer_ended) {
      const std::string line = c.read_line(150s, "the end of " + c.test);
      if (starts_with(line, "END ")) {
        if (line.substr(4, c.test.size()) != c.test)
          c.fail("control: out of step: this side ends " + c.test + ", the other sent '" + line +
                 "'");
        c.peer_ended = true;
        c.peer_verdict = line.substr(line.rfind(' ') + 1);
      }
      // Meeting points the other side sent before it heard of our END: dropped.
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return;
  }
  if (c.peer_verdict != "PASS")
    ADD_FAILURE() << "the " << name_of(other(g_side)) << " side failed " << c.test
                  << " (its output is labelled [" << name_of(other(g_side)) << "])";
}

// ---- child processes ---------------------------------------------------------------

child::child(const std::vector<std::string>& argv, const std::string& in, const std::string& out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.empty() ? "/dev/null" : in.c_str(), O_RDONLY, 0);
  if (!out.empty())
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int r = ::posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0) {
    pid_ = -1;
    throw std::system_error(r, std::system_category(), "posix_spawnp " + argv[0]);
  }
}

child::~child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void child::reap(int status) {
  pid_ = -1;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool child::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) reap(status);
  return pid_ > 0;
}

int child::wait(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (running()) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  return status_;
}

void child::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reap(status);
  }
}

int child::terminate(std::chrono::milliseconds limit) {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
  return wait(limit);
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
}

void write_file(const std::string& path, const std::vector<unsigned char>& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

namespace {
// Polls `there` while `owner` runs, at most `limit`.
template <class There>
bool wait_while_running(child& owner, std::chrono::milliseconds limit, There there) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (there()) return true;
    if (!owner.running()) return false;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}
}  // namespace

bool wait_for_file(const std::string& path, child& owner, std::chrono::milliseconds limit) {
  return wait_while_running(owner, limit, [&] { return !read_file(path).empty(); });
}

bool wait_for_socket(const std::string& path, child& owner, std::chrono::milliseconds limit) {
  return wait_while_running(owner, limit, [&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  });
}

// ---- main ----------------------------------------------------------------------------

int run_paired_gtest(int argc, char** argv, const char* program) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* side_env = std::getenv("VMSOCK_NESTED_SIDE");
  std::string side_arg = side_env ? side_env : "";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (starts_with(a, "--side=")) side_arg = a.substr(7);
  }
  if (side_arg != "host" && side_arg != "guest") {
    std::fprintf(stderr,
                 "%s: say which side this is: --side=host or --side=guest "
                 "(or VMSOCK_NESTED_SIDE)\n",
                 program);
    return 2;
  }
  g_side = side_arg == "host" ? side::host : side::guest;
  if (const char* c = std::getenv("VMSOCK_NESTED_CASE"))
    g_case = static_cast<unsigned>(std::atoi(c));
  if (!vmsock_vm::in_test_guest()) {
    std::fprintf(stderr,
                 "%s: refusing to run: not inside vmsock's test guest (no vmsock_test_guest=1 "
                 "on the kernel command line). It opens AF_VSOCK sockets, which on this "
                 "machine would reach its hypervisor; run it with ctest -L vm-nested.\n",
                 program);
    return 2;
  }
  // A hang ends this program (SIGALRM's default action) before the harness's
  // limit for the whole case.
  ::alarm(240);

  g_program = program;
  auto& c = control();
  try {
    if (g_side == side::host)
      c.accept_from_guest(control_port(), 120s);
    else
      c.connect_to_host(control_port(), 120s);
    if (!exchange_hello(c)) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s (%s side): %s\n", program, name_of(g_side), e.what());
    return 1;
  }
  std::printf("[ nested   ] %s side, control connection on port %u, case %u%s\n", name_of(g_side),
              static_cast<unsigned>(control_port()), g_case,
              g_side == side::guest && restarted_boot() ? ", in a restarted guest" : "");
  std::fflush(stdout);
  return RUN_ALL_TESTS();
}

}  // namespace vmsock_nested

#ifndef VMSOCK_NESTED_PROGRAM
#  define VMSOCK_NESTED_PROGRAM "vm_nested_tests"
#endif

int main(int argc, char** argv) {
  return vmsock_nested::run_paired_gtest(argc, argv, VMSOCK_NESTED_PROGRAM);
}
