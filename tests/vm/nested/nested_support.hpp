// Helpers for the paired test programs of the nested harness (tests/vm/nested):
// one binary runs on both sides of a real virtio-vsock boundary, as the host
// (the outer test guest, CID 2, vhost_vsock) and as the guest (the inner test
// guest, CID 3, the virtio transport), and each test has a half on each side.
//
// The two halves keep in step over a control connection, itself VSOCK
// (guest -> host, port 9000 + the harness case number): every test starts with
// both sides saying BEGIN <test>, ends with both saying END <test> <verdict>,
// and may meet in between at named points (sync, meet).  A side that
// fails early says END at once, so that the other one stops at its next
// meeting point instead of waiting; a side that dies closes the connection.
// Either way the other side fails the test with a message saying so.
//
// Like every program in tests/vm it refuses to run outside a test guest.
#pragma once

#include "guest_support.hpp"

#include <vmsock/socket/aliases.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace vmsock_nested {

using namespace std::chrono_literals;

inline constexpr std::uint32_t host_cid = 2;  // vmsock::vsock::cid::host
inline constexpr std::uint32_t guest_cid =
    3;  // the inner guest (-device vhost-vsock-pci,guest-cid=3)
inline constexpr std::uint32_t absent_cid = 4;  // no VM has it

enum class side { host, guest };

// Which side this process is (VMSOCK_NESTED_SIDE, or --side).
side this_side();
inline bool on_host() { return this_side() == side::host; }
inline bool on_guest() { return this_side() == side::guest; }
inline const char* name_of(side s) { return s == side::host ? "host" : "guest"; }
inline side other(side s) { return s == side::host ? side::guest : side::host; }
inline std::uint32_t cid_of(side s) { return s == side::host ? host_cid : guest_cid; }

// A VSOCK port for the running test: the same on both sides (derived from the
// test's place in the binary's list of tests), k < 32 of them per test.
std::uint32_t port(unsigned k = 0);
// The other side's CID and the given port: where this side connects.
inline vmsock::vsock_endpoint to_peer(std::uint32_t p) { return {cid_of(other(this_side())), p}; }
inline vmsock::vsock_endpoint any_port(std::uint32_t p) { return {vmsock::vsock::cid::any, p}; }

// Meets the other side at `point` (both must call it, in the same order):
// sends `mine`, returns what the other side sent.  Throws (failing the test)
// when the other side ended the test early, closed, sent another point, or
// did not come within `limit`.
std::string meet(const std::string& point, const std::string& mine = {},
                 std::chrono::milliseconds limit = 150s);
inline void sync(const std::string& point, std::chrono::milliseconds limit = 150s) {
  (void)meet(point, {}, limit);
}
std::uint64_t meet_number(const std::string& point, std::uint64_t mine);

// A test that restarts the inner guest (tests/vm/test_nested_restart.cpp):
// the host side kills the guest's qemu, runs `nested-outer.sh restart
// <case>`, and the restarted guest runs this program again, which resumes
// the test on its side (restarted_boot() tells it so: the kernel command line
// has vmsock_run_from=<case>).  await_restarted_guest() takes that program's
// new control connection, HELLO and BEGIN, within `limit`; after it the two
// halves meet as before and end the test as usual.
bool restarted_boot();
void await_restarted_guest(std::chrono::milliseconds limit);

// The fixture of every paired test: BEGIN in SetUp, END in TearDown.
class paired_test : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
};

// The meeting point at which a server says it listens on P.
inline void sync_listening(std::uint32_t p) { sync("listening on " + std::to_string(p)); }

// One connection across the boundary, made by both sides' calls: `server`
// listens on any:P, says so, and accepts (the peer accept reported goes to
// `peer`); the other side connects to the server's CID.  Listener:
// vsock_listener or vsock_seqpacket_listener.
template <class Listener>
typename Listener::socket_type_t connect_across(side server, std::uint32_t p,
                                                vmsock::vsock_endpoint* peer = nullptr) {
  if (this_side() == server) {
    auto l = Listener::listen(any_port(p));
    sync_listening(p);
    vmsock::vsock_endpoint from;
    auto s = l.accept(60s, from);
    if (peer) *peer = from;
    return s;
  }
  sync_listening(p);
  return Listener::socket_type_t::connect(to_peer(p), 60s);
}

// A connect (or any call) that should fail: the code and message of the
// std::system_error that `f` throws, and how long it took.
struct failure {
  std::error_code ec;
  std::string what;
  double seconds = 0;
};
template <class F> failure time_failure(F&& f) {
  failure r;
  const auto t0 = std::chrono::steady_clock::now();
  r.what = vmsock_vm::system_error_of(f, r.ec);
  r.seconds = vmsock_vm::seconds_since(t0);
  return r;
}

// A child process (posix_spawnp, PATH): stdin from `in` (default /dev/null),
// stdout to `out` (default: this process's, so its lines land in this side's
// labelled log); killed and reaped when destroyed.
class child {
 public:
  explicit child(const std::vector<std::string>& argv, const std::string& in = {},
                 const std::string& out = {});
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child();
  bool running();
  // The exit status when it ends by itself within `limit`; -1 when it had to
  // be killed, 128 + N when signal N ended it.
  int wait(std::chrono::milliseconds limit);
  void stop();  // SIGTERM, then reap
  // SIGTERM, then wait(limit): its exit status, -1 when it had to be killed.
  int terminate(std::chrono::milliseconds limit);

 private:
  void reap(int status);
  pid_t pid_ = -1;
  int status_ = -1;
};

// Waits until the file at `path` is non-empty (an example's --ready-file)
// while `owner` runs; false if it never is within `limit`.
bool wait_for_file(const std::string& path, child& owner, std::chrono::milliseconds limit = 60s);
// Waits until there is a socket file at `path` (a program's bound Unix
// socket) while `owner` runs; false if there never is within `limit`.
bool wait_for_socket(const std::string& path, child& owner, std::chrono::milliseconds limit = 60s);
std::vector<unsigned char> read_file(const std::string& path);
void write_file(const std::string& path, const std::vector<unsigned char>& data);

// main(): the guard, the control connection, the tests.
int run_paired_gtest(int argc, char** argv, const char* program);

}  // namespace vmsock_nested
