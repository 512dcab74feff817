// The VSOCK connect timeout beyond the kernel's 2 s default, across a real
// virtio-vsock boundary (tests/vm/nested).  The host side pauses the inner
// guest through its qemu's monitor (HMP `stop`, a Unix socket the harness
// names in VMSOCK_NESTED_MONITOR), so that a connect request to the guest's
// listener gets no answer at all, and times its connects.
#include "nested/nested_support.hpp"

#include <vmsock/vmsock.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>

#include <sys/socket.h>

namespace {

using namespace vmsock;
using namespace vmsock_nested;

class ConnectTimeout : public paired_test {};

// qemu's human monitor over its Unix socket: a command, then everything up
// to the next prompt.
class qemu_monitor {
 public:
  explicit qemu_monitor(const std::string& path)
      : s_(unix_stream_socket::connect(unix_endpoint::path(path), 10s)) {
    s_.set_option(receive_timeout{30s});
    (void)until_prompt();  // the banner
  }
  std::string command(const std::string& line) {
    s_.send_all(line + "\n");
    return until_prompt();
  }

 private:
  std::string until_prompt() {
    std::string got;
    char buf[512];
    while (got.find("(qemu) ") == std::string::npos) {
      const std::size_t n = s_.receive(buf, sizeof buf);
      if (n == 0) throw std::runtime_error("qemu monitor closed; got: " + got);
      got.append(buf, n);
    }
    return got;
  }
  unix_stream_socket s_;
};

// `stop` now, `cont` when it goes (whatever fails in between: a guest left
// paused would fail every later test).
class paused_guest {
 public:
  explicit paused_guest(qemu_monitor& m) : m_(m) { m_.command("stop"); }
  paused_guest(const paused_guest&) = delete;
  paused_guest& operator=(const paused_guest&) = delete;
  ~paused_guest() { resume(); }
  void resume() {
    if (!paused_) return;
    paused_ = false;
    try {
      m_.command("cont");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cont: " << e.what();
    }
  }

 private:
  qemu_monitor& m_;
  bool paused_ = true;
};

// The guest listens on P; the host pauses it and connects three ways:
//  - with no timeout of its own: the kernel's default connect timeout (2 s)
//    ends it, ETIMEDOUT;
//  - with vsock_connect_timeout{5 s} set explicitly on the socket: about 5 s,
//    ETIMEDOUT from the kernel;
//  - connect(ep, 5 s) alone: the same, because the library sets
//    SO_VM_SOCKETS_CONNECT_TIMEOUT to the requested timeout.  (That change to
//    stream_socket::connect is being made as this test is written; without it
//    the kernel's 2 s win and this check fails, which is what it is for.)
// Then it resumes the guest and connects for real.
TEST_F(ConnectTimeout, PausedGuestWaitsTheRequestedFiveSeconds) {
  const std::uint32_t p = port();
  const vsock_endpoint ep{guest_cid, p};
  if (on_guest()) {
    auto l = vsock_listener::listen(any_port(p));
    sync("listening");
    sync("resumed", 150s);  // the guest is paused in between: its clock stands still
    // Requests the host gave up on may still arrive after the resume (and be
    // reset at once by the host): the real connection says 'r'.
    for (int i = 0; i < 5; ++i) {
      auto s = l.accept(60s);
      s.set_option(receive_timeout{30s});
      char c = 0;
      std::error_code ec;
      if (s.receive(&c, 1, ec) == 1 && c == 'r') {
        s.send_all("R", 1);
        return;
      }
      vmsock_vm::record("stale_connection", ec ? ec.message() : std::string("EOF"));
    }
    ADD_FAILURE() << "the host's connection after the resume never came";
    return;
  }

  sync("listening");
  const char* path = std::getenv("VMSOCK_NESTED_MONITOR");
  ASSERT_NE(path, nullptr) << "the harness names the inner qemu's monitor in VMSOCK_NESTED_MONITOR";
  qemu_monitor m(path);
  paused_guest pause(m);
  const std::string status = m.command("info status");
  EXPECT_NE(status.find("paused"), std::string::npos) << status;

  const failure kernel_default = time_failure([&] { (void)vsock_stream_socket::connect(ep); });
  const failure explicit_option = time_failure([&] {
    // Set explicitly as well, until the one-call form below does it on main:
    // the option on an open socket, then connect() on its descriptor (the
    // kernel's own timer ends it).  This needs nothing the library is still
    // adding (the one-call form with setup items, connect(ep, t, opts...)).
    auto s = basic_socket<vsock_endpoint>::open(socket_type::stream);
    s.set_option(vsock_connect_timeout{5s});
    EXPECT_EQ(s.get_option<vsock_connect_timeout>().value, 5000ms);
    const auto native = ep.to_native();
    if (::connect(s.native_handle(), reinterpret_cast<const sockaddr*>(&native), sizeof native) !=
        0)
      throw std::system_error(errno, std::system_category(), "connect to " + ep.to_string());
  });
  const failure one_call = time_failure([&] { (void)vsock_stream_socket::connect(ep, 5s); });
  pause.resume();
  EXPECT_NE(m.command("info status").find("running"), std::string::npos);

  vmsock_vm::record("kernel_default_s", kernel_default.seconds);
  vmsock_vm::record("kernel_default_error", kernel_default.what);
  vmsock_vm::record("explicit_option_s", explicit_option.seconds);
  vmsock_vm::record("explicit_option_error", explicit_option.what);
  vmsock_vm::record("one_call_s", one_call.seconds);
  vmsock_vm::record("one_call_error", one_call.what);
  for (const auto* f : {&kernel_default, &explicit_option, &one_call})
    EXPECT_EQ(f->what.rfind("connect to " + ep.to_string() + ": ", 0), 0u) << f->what;

  EXPECT_EQ(kernel_default.ec, std::errc::timed_out) << kernel_default.ec.message();
  EXPECT_GE(kernel_default.seconds, 1.8);
  EXPECT_LT(kernel_default.seconds, 4.0) << "the kernel's own default is 2 s";

  EXPECT_EQ(explicit_option.ec, std::errc::timed_out) << explicit_option.ec.message();
  EXPECT_GE(explicit_option.seconds, 4.8);
  EXPECT_LT(explicit_option.seconds, 8.0);

  EXPECT_EQ(one_call.ec, std::errc::timed_out) << one_call.ec.message();
  EXPECT_GE(one_call.seconds, 4.8)
      << "connect(ep, 5s) must set SO_VM_SOCKETS_CONNECT_TIMEOUT to 5 s; it gave up after "
      << one_call.seconds << " s, the kernel's 2 s default";
  EXPECT_LT(one_call.seconds, 8.0);

  sync("resumed");
  auto s = vsock_stream_socket::connect(ep, 60s);
  s.set_option(receive_timeout{60s});
  s.send_all("r", 1);
  char c = 0;
  EXPECT_EQ(s.receive_exact(&c, 1), 1u);
  EXPECT_EQ(c, 'R');
}

}  // namespace
