// The program that systemd-socket-activate starts in the activation tests
// (test_activation.cpp).  It reads what it was passed with vmsock's
// systemd.hpp and writes a report, line by line, to the file named by its
// first argument:
//
//   vmsock_activated <report> all
//       systemd_listeners(); then, for each listener, accepts one connection
//       (20 s) and writes "hello from <its local endpoint>\n" to it.  Reports
//       "listeners <n>", each "local <uri>", "env <LISTEN_PID|unset> ...",
//       "cloexec <fd> <0|1>".
//   vmsock_activated <report> typed <name> <tcp4|tcp6|unix|vsock> [<name> <kind>...]
//       systemd_sockets::from_environment(), take<that listener>(name) for each
//       pair, accepts one connection on each and greets it; "took <name> <uri>".
//   vmsock_activated <report> take-wrong <name> <kind>
//       take<kind>(name), expected to fail: "error <message>".
//   vmsock_activated <report> error
//       systemd_listeners(), expected to fail: "error <message>".
//
// Exit 0 when it did what it was asked (for take-wrong and error: when the
// call failed), 1 otherwise.
#include <vmsock/any/stream_socket.hpp>
#include <vmsock/socket/aliases.hpp>
#include <vmsock/host/systemd.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace {

using namespace std::chrono_literals;

// The report is written to descriptor 64 or above, so that the descriptors
// systemd would pass (3, 4, ...) stay what the launcher left them: a
// LISTEN_FDS larger than what was passed names descriptors that are not open.
int report = -1;

void line(const std::string& s) {
  const std::string text = s + "\n";
  if (::write(report, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
}

void environment_left() {
  for (const char* v : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) {
    const char* value = std::getenv(v);
    line(std::string("env ") + v + " " + (value ? value : "unset"));
  }
}

template <class Listener> std::string greet(Listener& l) {
  auto c = l.accept(20s);
  const std::string where = vmsock::any_endpoint(l.local_endpoint()).to_string();
  c.send_all(std::string("hello from " + where + "\n"), 10s);
  return where;
}

int run_all() {
  auto all = vmsock::systemd_listeners();
  line("listeners " + std::to_string(all.size()));
  for (const auto& ep : all.local_endpoints()) line("local " + ep.to_string());
  environment_left();
  for (int fd = 3; fd < 3 + static_cast<int>(all.size()); ++fd)
    line("cloexec " + std::to_string(fd) + " " +
         std::to_string((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0 ? 1 : 0));
  for (std::size_t i = 0; i < all.size(); ++i) {
    vmsock::any_endpoint peer;
    auto c = all.accept(20s, &peer);
    c.send_all(std::string_view("hello from activation\n"), 10s);
    line("accepted " + peer.to_string());
  }
  return 0;
}

template <class Listener> void take_one(vmsock::systemd_sockets& passed, const std::string& name) {
  auto l = passed.take<Listener>(name);
  line("took " + name + " " + greet(l));
}

int run_typed(int argc, char** argv) {
  auto passed = vmsock::systemd_sockets::from_environment();
  line("passed " + std::to_string(passed.size()));
  for (const auto& e : passed.entries()) line("name " + e.name);
  environment_left();
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const std::string kind = argv[i + 1];
    if (kind == "tcp4")
      take_one<vmsock::tcp4_listener>(passed, name);
    else if (kind == "tcp6")
      take_one<vmsock::tcp6_listener>(passed, name);
    else if (kind == "unix")
      take_one<vmsock::unix_listener>(passed, name);
    else if (kind == "vsock")
      take_one<vmsock::vsock_listener>(passed, name);
    else
      return 1;
  }
  line("untaken " + std::to_string(passed.untaken()));
  return 0;
}

int run_take_wrong(const std::string& name, const std::string& kind) {
  auto passed = vmsock::systemd_sockets::from_environment();
  try {
    if (kind == "tcp4")
      passed.take<vmsock::tcp4_listener>(name);
    else if (kind == "tcp6")
      passed.take<vmsock::tcp6_listener>(name);
    else if (kind == "unix")
      passed.take<vmsock::unix_listener>(name);
    else if (kind == "vsock")
      passed.take<vmsock::vsock_listener>(name);
    else if (kind == "seqpacket")
      passed.take<vmsock::seqpacket_listener<vmsock::unix_endpoint>>(name);
  } catch (const std::system_error& e) {
    line(std::string("error ") + e.what());
    line("code " + std::to_string(e.code().value()) + " " + e.code().category().name());
    return 0;
  }
  line("no error");
  return 1;
}

int run_error() {
  try {
    auto all = vmsock::systemd_listeners();
  } catch (const std::system_error& e) {
    line(std::string("error ") + e.what());
    environment_left();
    return 0;
  }
  line("no error");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const int fd = ::open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 2;
  report = ::fcntl(fd, F_DUPFD_CLOEXEC, 64);
  ::close(fd);
  if (report < 0) return 2;
  const std::string mode = argv[2];
  line("pid " + std::to_string(::getpid()));
  try {
    if (mode == "all") return run_all();
    if (mode == "typed") return run_typed(argc, argv);
    if (mode == "take-wrong" && argc >= 5) return run_take_wrong(argv[3], argv[4]);
    if (mode == "error") return run_error();
  } catch (const std::exception& e) {
    line(std::string("unexpected ") + e.what());
    return 1;
  }
  return 2;
}
