// A host agent whose guest's VM is killed and booted again (tests/vm/nested):
// what its connections, its listener, a wait-for-ready connect and its
// descriptors do.  The host side kills the inner guest's qemu with SIGKILL
// while it has connections to the guest and calls in flight on them, then
// boots the guest again with `nested-outer.sh restart <case>`; the restarted
// guest runs this program again, which resumes the test on its side
// (restarted_boot()).  The case that runs it comes last in vm_nested: the
// kill ends the first boot's list there.
#include "nested/nested_support.hpp"

#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <dirent.h>
#include <unistd.h>

namespace {

using namespace vmsock;
using namespace vmsock_nested;
using clock_type = std::chrono::steady_clock;

class Restart : public paired_test {};

constexpr int agent_connections = 8;

// Open descriptors of this process (/proc/self/fd, less the one that reads it).
std::size_t open_descriptors() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) throw std::system_error(errno, std::system_category(), "/proc/self/fd");
  std::size_t n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;
}

// The harness's directory in the outer guest, where the inner qemu's monitor
// socket is: qemu.pid, and the marker that says the kill is on purpose.
std::string harness_dir() {
  const char* monitor = std::getenv("VMSOCK_NESTED_MONITOR");
  if (monitor == nullptr) throw std::runtime_error("VMSOCK_NESTED_MONITOR is not set");
  const std::string m = monitor;
  return m.substr(0, m.rfind('/'));
}

// The harness's wait for a guest side's result: at least three inner boots
// as measured in this run (outer.sh).  Every wait across the restart is
// bounded by it: one boot and the program's start fit in it.
std::chrono::seconds result_limit() {
  const char* v = std::getenv("VMSOCK_NESTED_RESULT_LIMIT");
  return std::chrono::seconds(v != nullptr ? std::atoi(v) : 150);
}

std::string case_number() {
  const char* c = std::getenv("VMSOCK_NESTED_CASE");
  if (c == nullptr) throw std::runtime_error("VMSOCK_NESTED_CASE is not set");
  return c;
}

// A process that is gone or a zombie (qemu's parent, the outer guest's init,
// need not have reaped it).
bool process_gone(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return true;
  const auto close = line.rfind(')');
  return close == std::string::npos || line.compare(close, 4, ") Z ") == 0;
}

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A thread that is joined when it goes out of scope, also when an assertion
// returns early (every call it makes has a deadline).
struct joined_thread : std::thread {
  using std::thread::thread;
  joined_thread(joined_thread&&) = default;
  ~joined_thread() {
    if (joinable()) join();
  }
};

// What a call on a connection of the killed guest gave: the bytes, the error.
struct outcome {
  std::size_t n = 0;
  std::error_code ec;
  clock_type::time_point at;
};
std::string describe(const outcome& o) {
  if (o.ec) return o.ec.message();
  return o.n == 0 ? "end of stream" : std::to_string(o.n) + " byte(s)";
}
// ---- the guest side ------------------------------------------------------------------

// First boot: an agent that echoes one message on each of the host's
// connections and then holds them, a connection to the host's listener, and a
// wait that only the kill ends.
void guest_until_killed(std::uint32_t p_agent, std::uint32_t p_back) {
  auto agent = vsock_listener::listen(any_port(p_agent));
  sync("listening");
  std::vector<vsock_stream_socket> held;
  for (int k = 0; k < agent_connections; ++k) {
    auto s = agent.accept(60s);
    char buf[4];
    s.receive_exact(buf, sizeof buf, 60s);
    s.send_all(buf, sizeof buf, 60s);
    held.push_back(std::move(s));
  }
  auto up = vsock_stream_socket::connect({host_cid, p_back}, 60s);
  up.send_all("up", 2, 60s);
  sync("holding");
  // The host kills this guest in this wait; the limit only bounds a host
  // side that failed to.
  sync("killed", 150s);
  ADD_FAILURE() << "the host side never killed this guest";
}

// Second boot: the agent listens again (the host's wait-for-ready connect
// reaches it) and the guest connects to the host's listener again.
void guest_after_restart(std::uint32_t p_agent, std::uint32_t p_back) {
  auto agent = vsock_listener::listen(any_port(p_agent));
  const auto listening = clock_type::now();
  vsock_endpoint from;
  auto s = agent.accept(150s, from);
  const double waited = vmsock_vm::seconds_since(listening);
  EXPECT_EQ(from.cid, host_cid);
  char buf[4];
  s.receive_exact(buf, sizeof buf, 60s);
  s.send_all(buf, sizeof buf, 60s);
  auto up = vsock_stream_socket::connect({host_cid, p_back}, 60s);
  up.send_all("back", 4, 60s);
  vmsock_vm::record("guest_listen_to_accept_s", waited);
  (void)meet_number("reached", static_cast<std::uint64_t>(waited * 1000));
  sync("done");
}

// ---- the host side -------------------------------------------------------------------

void host_side(std::uint32_t p_agent, std::uint32_t p_back) {
  const auto limit = result_limit();
  // The program's own alarm (240 s) is for cases that wait for no boot.
  ::alarm(static_cast<unsigned>(3 * limit.count()));
  const wait_for_ready ready{};
  const std::size_t descriptors_before = open_descriptors();
  const std::uint32_t cid_before = vsock::local_cid();
  EXPECT_EQ(cid_before, host_cid);
  {
    auto back = vsock_listener::listen(any_port(p_back));
    sync("listening");

    // Eight connections to the agent, each echoing once: the slowest round
    // trip is the yardstick of the bounds below.
    std::vector<vsock_stream_socket> conns;
    double slowest_echo = 0;
    for (int k = 0; k < agent_connections; ++k) {
      auto s = vsock_stream_socket::connect({guest_cid, p_agent}, 60s);
      const auto t0 = clock_type::now();
      const std::string msg = "pin" + std::to_string(k);
      s.send_all(msg.data(), msg.size(), 60s);
      char buf[4];
      s.receive_exact(buf, sizeof buf, 60s);
      slowest_echo = std::max(slowest_echo, vmsock_vm::seconds_since(t0));
      EXPECT_EQ(std::string(buf, 4), msg);
      conns.push_back(std::move(s));
    }
    vsock_endpoint from;
    conns.push_back(back.accept(60s, from));
    EXPECT_EQ(from.cid, guest_cid);
    char up[2];
    conns.back().receive_exact(up, sizeof up, 60s);
    vmsock_vm::record("slowest_echo_s", slowest_echo);

    // A receive in flight on each connection (the guest sends nothing more),
    // and an accept in flight on the listener, which the restarted guest
    // answers: the listener keeps serving across the restart.
    std::vector<outcome> blocked(conns.size());
    std::vector<joined_thread> threads;
    std::atomic<int> started{0};
    for (std::size_t k = 0; k < conns.size(); ++k) {
      threads.emplace_back([&, k] {
        ++started;
        char c;
        blocked[k].n = conns[k].receive(&c, 1, 60s, blocked[k].ec);
        blocked[k].at = clock_type::now();
      });
    }
    vsock_stream_socket again_from_guest;
    std::error_code accept_ec;
    joined_thread acceptor([&] { again_from_guest = back.accept(2 * limit, from, accept_ec); });
    while (started < static_cast<int>(conns.size())) std::this_thread::sleep_for(1ms);
    sync("holding");
    // The threads are in their calls, or about to be: a call that starts
    // after the kill must end the same way.
    std::this_thread::sleep_for(std::chrono::duration<double>(10 * slowest_echo));

    const std::string dir = harness_dir();
    const pid_t qemu = static_cast<pid_t>(std::stol([&] {
      std::ifstream f(dir + "/qemu.pid");
      std::string pid;
      std::getline(f, pid);
      return pid;
    }()));
    std::ofstream(dir + "/restarting") << "case " << case_number() << "\n";
    const auto killed = clock_type::now();
    ASSERT_EQ(::kill(qemu, SIGKILL), 0) << "kill " << qemu;
    while (!process_gone(qemu) && clock_type::now() - killed < limit)
      std::this_thread::sleep_for(1ms);
    const double gone = vmsock_vm::seconds_since(killed);
    vmsock_vm::record("qemu_gone_after_kill_s", gone);
    for (auto& t : threads) t.join();

    // vhost_vsock, releasing the dead qemu's device, resets every connection
    // to its CID: each call in flight ends with ECONNRESET (not the end of
    // the stream a peer's shutdown gives), soon after the qemu was gone:
    // within that time and ten of the slowest echo round trips (the host's
    // own wake-ups are far quicker than a round trip into the guest), nowhere
    // near its 60 s deadline.
    const double bound = gone + 10 * slowest_echo;
    for (std::size_t k = 0; k < blocked.size(); ++k) {
      const double after = seconds_between(killed, blocked[k].at);
      const std::string what =
          (k < agent_connections ? "connection to the agent " : "connection from the guest ") +
          std::to_string(k) + ": " + describe(blocked[k]);
      vmsock_vm::record("in_flight_" + std::to_string(k),
                        what + " after " + std::to_string(after) + " s");
      EXPECT_EQ(blocked[k].ec, std::errc::connection_reset) << what;
      EXPECT_LE(after, bound) << what;
    }
    // And every later call on them, at once: a receive still ECONNRESET (the
    // error stays), a send EPIPE (the peer is shut both ways).
    for (std::size_t k = 0; k < conns.size(); ++k) {
      outcome r, w;
      const auto t0 = clock_type::now();
      char c = 'x';
      r.n = conns[k].receive(&c, 1, 60s, r.ec);
      w.n = conns[k].send(&c, 1, 60s, w.ec);
      const double took = vmsock_vm::seconds_since(t0);
      vmsock_vm::record("later_" + std::to_string(k),
                        "receive: " + describe(r) + ", send: " + describe(w));
      EXPECT_EQ(r.ec, std::errc::connection_reset) << "receive: " << describe(r);
      EXPECT_EQ(w.ec, std::errc::broken_pipe) << "send: " << describe(w);
      EXPECT_LE(took, 10 * slowest_echo);
    }

    // A plain connect while no VM has the guest's CID: vhost_vsock says
    // ENODEV at once, which wait_for_ready retries as "not up yet".
    std::error_code down;
    (void)vsock_stream_socket::connect({guest_cid, p_agent}, 10s, down);
    vmsock_vm::record("connect_while_down", down.message());
    EXPECT_EQ(down, std::errc::no_such_device) << down.message();

    // The reboot, and meanwhile a connect that waits for the agent.
    vsock_stream_socket reconnected;
    std::error_code ready_ec;
    clock_type::time_point ready_at;
    joined_thread connector([&] {
      reconnected = vsock_stream_socket::connect({guest_cid, p_agent}, limit, ready, ready_ec);
      ready_at = clock_type::now();
    });
    child restart({"nested-outer.sh", "restart", case_number()});
    std::string why_not;
    try {
      await_restarted_guest(limit);
    } catch (const std::exception& e) {
      why_not = e.what();
    }
    EXPECT_EQ(restart.wait(limit), 0) << "nested-outer.sh restart";
    connector.join();
    ASSERT_EQ(why_not, "") << "the restarted guest side never came back";
    vmsock_vm::record("agent_reached_after_kill_s", seconds_between(killed, ready_at));

    ASSERT_FALSE(ready_ec) << "the wait-for-ready connect: " << ready_ec.message();
    reconnected.send_all("agnt", 4, 60s);
    char buf[4];
    reconnected.receive_exact(buf, sizeof buf, 60s);
    EXPECT_EQ(std::string(buf, 4), "agnt");
    acceptor.join();  // the guest connects after the echo
    ASSERT_FALSE(accept_ec) << "the accept in flight across the restart: " << accept_ec.message();
    EXPECT_EQ(from.cid, guest_cid);
    again_from_guest.receive_exact(buf, sizeof buf, 60s);
    EXPECT_EQ(std::string(buf, 4), "back");

    // The connect got back as soon as the agent listened: within the longest
    // pause between attempts, and ten of the slowest echo round trips for the
    // attempt itself.
    const double waited = static_cast<double>(meet_number("reached", 0)) / 1000;
    const double pause =
        std::chrono::duration<double>(ready.longest_pause).count() * (1 + ready.jitter);
    EXPECT_LE(waited, pause + 10 * slowest_echo)
        << "the agent listened " << waited << " s before the wait-for-ready connect reached it";
    sync("done");
  }
  // Everything above is closed: the descriptors are as before (the control
  // connection is a new one, in place of the one the kill broke).
  EXPECT_EQ(open_descriptors(), descriptors_before);
  // local_cid() asks /dev/vsock on each call (host/local_cid.hpp): a VM
  // restored elsewhere may come back with another CID.
  std::error_code ec;
  EXPECT_EQ(vsock::local_cid(ec), cid_before) << ec.message();
}

TEST_F(Restart, HostAgentOutlivesItsGuestsRestart) {
  const std::uint32_t p_agent = port(0), p_back = port(1);
  if (on_host())
    host_side(p_agent, p_back);
  else if (restarted_boot())
    guest_after_restart(p_agent, p_back);
  else
    guest_until_killed(p_agent, p_back);
}

}  // namespace
