// vmsock mux [options] UDS_PATH TARGET: a Firecracker-compatible hybrid vsock
// socket in front of a VM that has real VM sockets (QEMU/KVM's vhost-vsock,
// Hyper-V), so that host code written for Firecracker's vsock device runs
// unchanged against those guests.
//
//   host code --unix--> UDS_PATH  "CONNECT P\n"  --> TARGET port P (vsock://CID:P, ...)
//             <-------- "OK <n>\n", then the guest's stream, both ways
//   guest --VM socket--> port P (--guest-port P) --> unix UDS_PATH_P
//
// Each connection is served by the thread that accepted it (acceptor_pool:
// threads are reused, and one waits in accept at a time); the relay is
// `vmsock cat`'s (relay.hpp, which adds a thread for the way back), with
// splice(2) where it pays.  Only vmsock's public API, as a user would write it.
#include "cli.hpp"
#include "mux_request.hpp"
#include "relay.hpp"
#include "socket_sides.hpp"

#include <vmsock/any/connector.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/endpoint/hybrid_vsock.hpp>
#include <vmsock/endpoint/hyperv.hpp>
#include <vmsock/host/peer_filter.hpp>
#include <vmsock/endpoint/unix.hpp>
#include <vmsock/endpoint/vsock.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace vmsock_cli {

namespace {

constexpr const char* mux_help =
    "usage: vmsock mux [options] UDS_PATH TARGET\n"
    "\n"
    "A Firecracker-compatible vsock socket in front of a VM that has real VM sockets:\n"
    "host code written for Firecracker's (or Cloud Hypervisor's) vsock device runs\n"
    "unchanged against a QEMU/KVM or Hyper-V guest.\n"
    "\n"
    "Listens on the Unix socket UDS_PATH (a stale socket file is replaced; the file is\n"
    "removed at exit).  A client connects there and writes \"CONNECT <port>\\n\"; the\n"
    "mux connects to that port of TARGET and answers \"OK <n>\\n\" (n counts up from\n"
    "1073741824, as Firecracker's host-side ports do), then relays both ways.  Bytes\n"
    "the client wrote after its line are relayed, not lost.  As Firecracker does, a\n"
    "malformed line, or a port nothing listens on, is answered by closing the\n"
    "connection without a word.  The line is read as Firecracker reads it: at most\n"
    "32 bytes, \"connect\" in any case, a decimal 32-bit port; a line without '\\n'\n"
    "within 32 bytes, or not finished within --request-timeout, is refused.\n"
    "\n"
    "TARGET:\n"
    "  vsock://CID         a QEMU/KVM guest (vhost-vsock) on a Linux host: port P is\n"
    "                      vsock://CID:P\n"
    "  hvsock://VM-ID      a Hyper-V guest on a Windows host (the VM's GUID): port P is\n"
    "                      the service P-facb-11e6-bd58-64006a7986d3 of that VM\n"
    "  for tests and proxies:\n"
    "  tcp://HOST          port P is tcp://HOST:P (HOST an IPv4 literal or [IPv6])\n"
    "  unix:///PREFIX      port P is unix:///PREFIX_P\n"
    "\n"
    "options:\n"
    "  --guest-port P      also serve the guest's connections to host port P (CID 2 on\n"
    "                      KVM, hvsock://parent/P under Hyper-V): listen on VM-socket\n"
    "                      port P (vsock://any:P; on Windows the Hyper-V service of\n"
    "                      port P, which must be registered: vmsock service register)\n"
    "                      and connect each to the Unix socket UDS_PATH_P, as\n"
    "                      Firecracker does.  Only TARGET's VM is accepted there (its\n"
    "                      CID or VM id); others are refused, counted and logged.\n"
    "                      Repeatable.  Needs a vsock:// or hvsock:// TARGET.\n"
    "  --max-connections N at most N connections at once, both kinds together\n"
    "                      (default 1023, as Firecracker); the next ones are accepted\n"
    "                      and closed at once\n"
    "  --request-timeout T a client that has not finished its line within T is\n"
    "                      dropped (default 5s)\n"
    "  --connect-timeout T give up a connect to TARGET (or to UDS_PATH_P) after T\n"
    "                      (default 2s, Firecracker's wait for the guest's answer)\n"
    "  --idle-timeout T    end a relay when no byte has moved either way for T\n"
    "  -b, --buffer SIZE   bytes per direction (copy buffer, splice pipe), default 256K\n"
    "  --splice MODE       auto (default), always or never: as for vmsock cat\n"
    "  -v, --verbose       log each request and its outcome, each relay's bytes, and a\n"
    "                      summary at exit\n"
    "  -h, --help          this text\n"
    "\n"
    "T is a duration (500ms, 5s, 2m; seconds when no unit).  Log lines go to stderr;\n"
    "without -v only refused guest peers, connections closed at the cap, relays that\n"
    "failed and failures of the listeners themselves are logged.  Unlike Firecracker,\n"
    "the mux passes a half-close on (Firecracker ends both directions).  SIGINT and\n"
    "SIGTERM stop the mux: the listeners and every connection are ended, the socket\n"
    "files removed; exit 0.\n"
    "\n"
    "examples:\n"
    "  # the Firecracker-style socket of the QEMU/KVM guest with CID 3, and that\n"
    "  # guest's connections to host port 6000 (to whatever listens on /run/vm3.vsock_6000)\n"
    "  vmsock mux --guest-port 6000 /run/vm3.vsock vsock://3\n"
    "  # the same for a Hyper-V VM, on its Windows host\n"
    "  vmsock mux C:\\vms\\vm3.vsock hvsock://6e5a1a7c-3e7c-4f46-a0b2-0f6f3b6d8a11\n"
    "  # host code written for Firecracker (here vmsock's own): guest port 5000\n"
    "  vmsock cat - hybrid-vsock:///run/vm3.vsock:5000\n"
    "\n"
    "Exit status: 0 when stopped by a signal, 1 on a failure to start (the message\n"
    "says which), 2 on a usage error.\n";

// ---- options and the target ----------------------------------------------------

struct mux_target {
  enum class kind { vsock, hvsock, tcp, unix_prefix } what = kind::vsock;
  std::uint32_t cid = 0;
  vmsock::guid vm{};
  vmsock::any_endpoint ip;            // tcp://HOST:0
  vmsock::unix_endpoint unix_prefix;  // unix:///PREFIX
  std::string text;                   // how the log names it: "vsock://3"

  bool is_vm() const noexcept { return what == kind::vsock || what == kind::hvsock; }

  // Port P of the target; nullopt and `why` when P cannot be carried there.
  std::optional<vmsock::any_endpoint> at(std::uint32_t port, std::string& why) const {
    switch (what) {
    case kind::vsock: return vmsock::any_endpoint(vmsock::vsock_endpoint{cid, port});
    case kind::hvsock: {
      const auto ep = vmsock::hv_endpoint::try_for_port(vm, port);
      if (!ep) {
        why = "port " + std::to_string(port) + " has no Hyper-V service id (above 0x7fffffff)";
        return std::nullopt;
      }
      return vmsock::any_endpoint(*ep);
    }
    case kind::tcp:
      if (port > 65535) {
        why = "port " + std::to_string(port) + " is not a TCP port";
        return std::nullopt;
      }
      if (const auto* v4 = ip.get_if<vmsock::inet4_endpoint>()) {
        auto ep = *v4;
        ep.port = static_cast<std::uint16_t>(port);
        return vmsock::any_endpoint(ep);
      } else {
        auto ep = *ip.get_if<vmsock::inet6_endpoint>();
        ep.port = static_cast<std::uint16_t>(port);
        return vmsock::any_endpoint(ep);
      }
    case kind::unix_prefix: {
      const std::string name = std::string(unix_prefix.name()) + "_" + std::to_string(port);
      try {
        return vmsock::any_endpoint(unix_prefix.is_abstract()
                                        ? vmsock::unix_endpoint::abstract(name)
                                        : vmsock::unix_endpoint::path(name));
      } catch (const vmsock::parse_error& e) {
        why = e.what();
        return std::nullopt;
      }
    }
    }
    return std::nullopt;
  }
};

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

mux_target parse_target(const std::string& text) {
  const std::string where = "TARGET '" + text + "'";
  const auto sep = text.find("://");
  const std::string expected =
      "expected vsock://CID or hvsock://VM-ID (tcp://HOST or unix:///PREFIX for tests and proxies)";
  if (sep == std::string::npos) throw usage_error(where + " is not a URI: " + expected);
  const std::string scheme = lower(text.substr(0, sep));
  const std::string rest = text.substr(sep + 3);
  const std::string no_port = where + " names no port: each CONNECT line names one (";
  mux_target t;
  if (scheme == "vsock") {
    if (rest.find(':') != std::string::npos) throw usage_error(no_port + "vsock://CID)");
    const auto r = vmsock::vsock_endpoint::parse_detail("vsock://" + rest + ":0");
    if (!r) throw usage_error(where + ": " + r.error);
    if (r.value.cid == vmsock::vsock::cid::any)
      throw usage_error(where + ": 'any' is no VM; give the guest's CID");
    t.what = mux_target::kind::vsock;
    t.cid = r.value.cid;
    t.text = "vsock://" + std::to_string(t.cid);
  } else if (scheme == "hvsock") {
    if (rest.find('/') != std::string::npos) throw usage_error(no_port + "hvsock://VM-ID)");
    const auto r = vmsock::hv_endpoint::parse_detail("hvsock://" + rest + "/0");
    if (!r) throw usage_error(where + ": " + r.error);
    if (r.value.vm_id == vmsock::hv::vm_id::wildcard)
      throw usage_error(where + ": the wildcard is no VM; give the VM's id");
    t.what = mux_target::kind::hvsock;
    t.vm = r.value.vm_id;
    t.text = "hvsock://" + rest;
  } else if (scheme == "tcp") {
    const bool v6 = !rest.empty() && rest.front() == '[';
    if ((v6 && rest.back() != ']') || (!v6 && rest.find(':') != std::string::npos))
      throw usage_error(no_port + "tcp://HOST)");
    const auto r = vmsock::any_endpoint::parse_detail("tcp://" + rest + ":0");
    if (!r) throw usage_error(where + ": " + r.error);
    t.what = mux_target::kind::tcp;
    t.ip = r.value;
    t.text = "tcp://" + rest;
  } else if (scheme == "unix") {
    const auto r = vmsock::unix_endpoint::parse_detail(text);
    if (!r) throw usage_error(where + ": " + r.error);
    if (r.value.is_unnamed()) throw usage_error(where + ": no path prefix (unix:///PREFIX)");
    t.what = mux_target::kind::unix_prefix;
    t.unix_prefix = r.value;
    t.text = r.value.to_string();
  } else {
    throw usage_error(where + ": " + expected);
  }
  return t;
}

struct mux_options {
  std::string uds_path;
  mux_target target;
  std::vector<std::uint32_t> guest_ports;
  bool verbose = false;
  std::size_t max_connections = 1023;
  vmsock::timeout request_timeout = std::chrono::seconds(5);
  vmsock::timeout connect_timeout = std::chrono::seconds(2);
  relay_options relay;
};

// ---- logging ----------------------------------------------------------------------

std::mutex log_mutex;
void log_line(const std::string& line) noexcept {
  std::lock_guard<std::mutex> g(log_mutex);
  std::fprintf(stderr, "vmsock mux: %s\n", line.c_str());
  std::fflush(stderr);
}

using clock = std::chrono::steady_clock;

// ---- shared state: stopping, the cap, the answers' numbers, counters -----------

struct counters {
  std::atomic<std::uint64_t> requests{0};    // connections to UDS_PATH admitted
  std::atomic<std::uint64_t> relayed{0};     // answered OK
  std::atomic<std::uint64_t> malformed{0};   // a line refused (malformed, too long)
  std::atomic<std::uint64_t> unfinished{0};  // no line: timed out, closed, failed
  std::atomic<std::uint64_t> connect_failed{0};
  std::atomic<std::uint64_t> capped{0};  // accepted and closed at the cap
  std::atomic<std::uint64_t> guest{0};   // guest connections admitted
  std::atomic<std::uint64_t> guest_relayed{0};
  std::atomic<std::uint64_t> guest_failed{0};  // UDS_PATH_P did not answer
};

class acceptor_pool;

class mux_state {
 public:
  std::atomic<int> signal{0};
  counters count;

  bool stopping() const noexcept { return signal.load() != 0; }

  // Everything a stop must end, each registered while it may wait.
  template <class T> void add(T* p) {
    std::lock_guard<std::mutex> g(m_);
    set_of(p).insert(p);
    if (stopping()) stop_one(p);
  }
  template <class T> void remove(T* p) {
    std::lock_guard<std::mutex> g(m_);
    set_of(p).erase(p);
  }
  void stop(int sig) {
    std::lock_guard<std::mutex> g(m_);
    signal.store(sig);
    for (auto* l : listeners_) l->cancel();
    for (auto* c : connectors_) c->cancel();
    for (auto* s : pending_) s->cancel();
    for (auto* r : relays_) r->stop(relay_end::stopped);
    for (auto* p : pools_) stop_one(p);
    cv_.notify_all();
  }

  // The cap: a connection holds a place from its accept to its end.
  bool admit(std::size_t max) {
    std::lock_guard<std::mutex> g(m_);
    if (active_ >= max) return false;
    ++active_;
    return true;
  }
  void done() {
    std::lock_guard<std::mutex> g(m_);
    --active_;
  }
  // Each thread of the acceptor pools, from its start to its last log line.
  void thread_started() {
    std::lock_guard<std::mutex> g(m_);
    ++threads_;
  }
  void thread_ended() {
    std::lock_guard<std::mutex> g(m_);
    --threads_;
    cv_.notify_all();
  }
  // After a stop: waits until every thread of the pools has ended, at most
  // `limit`; how many have not.
  std::size_t wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait_for(l, limit, [&] { return threads_ == 0; });
    return threads_;
  }

  // The number an OK answer carries: a host-side port, as Firecracker's,
  // counting up from 1 << 30 within [1 << 30, 1 << 31) and skipping those
  // still held by a connection.
  std::uint32_t take_number() {
    std::lock_guard<std::mutex> g(m_);
    for (;;) {
      last_number_ = last_number_ + 1 >= (1u << 31) ? (1u << 30) : last_number_ + 1;
      if (numbers_.insert(last_number_).second) return last_number_;
    }
  }
  void give_back(std::uint32_t n) {
    std::lock_guard<std::mutex> g(m_);
    numbers_.erase(n);
  }

 private:
  std::set<vmsock::any_listener*>& set_of(vmsock::any_listener*) { return listeners_; }
  std::set<vmsock::any_connector*>& set_of(vmsock::any_connector*) { return connectors_; }
  std::set<vmsock::any_stream_socket*>& set_of(vmsock::any_stream_socket*) { return pending_; }
  std::set<relay*>& set_of(relay*) { return relays_; }
  std::set<acceptor_pool*>& set_of(acceptor_pool*) { return pools_; }
  static void stop_one(vmsock::any_listener* l) { l->cancel(); }
  static void stop_one(vmsock::any_connector* c) { c->cancel(); }
  static void stop_one(vmsock::any_stream_socket* s) { s->cancel(); }
  static void stop_one(relay* r) { r->stop(relay_end::stopped); }
  static void stop_one(acceptor_pool* p);  // wakes its spawner

  std::mutex m_;
  std::condition_variable cv_;
  std::set<vmsock::any_listener*> listeners_;
  std::set<vmsock::any_connector*> connectors_;
  std::set<vmsock::any_stream_socket*> pending_;
  std::set<relay*> relays_;
  std::set<acceptor_pool*> pools_;
  std::size_t active_ = 0;
  std::size_t threads_ = 0;
  std::set<std::uint32_t> numbers_;
  std::uint32_t last_number_ = (1u << 30) - 1;
};

mux_state state;

void on_stop(int sig) { state.stop(sig); }

// Registered with the state for as long as it lives.
template <class T> class registered {
 public:
  explicit registered(T* p) : p_(p) { state.add(p_); }
  ~registered() { release(); }
  void release() {
    if (p_) state.remove(p_);
    p_ = nullptr;
  }
  registered(const registered&) = delete;
  registered& operator=(const registered&) = delete;

 private:
  T* p_;
};

// A connection's place under the cap, given back at its end (before the
// relay's summary is logged: a place is free once its "closed" line is out).
class place {
 public:
  place() = default;
  ~place() { release(); }
  void release() {
    if (held_) state.done();
    held_ = false;
  }
  place(const place&) = delete;
  place& operator=(const place&) = delete;

 private:
  bool held_ = true;
};

// ---- peer filters of the guest ports ---------------------------------------------

// TARGET's VM only (peer::cids or peer::vm_ids); a refusal is logged here,
// and the listener counts it (rejected_peers()).
template <class Filter> class guest_only {
 public:
  guest_only(Filter f, std::uint32_t port, std::string vm)
      : f_(std::move(f)),
        port_(port),
        vm_(std::move(vm)),
        refused_(std::make_shared<std::atomic<std::uint64_t>>(0)) {}

  bool operator()(const vmsock::any_endpoint& peer) const noexcept {
    if (f_(peer)) return true;
    const std::uint64_t n = ++*refused_;
    try {
      log_line("guest port " + std::to_string(port_) + ": refused " + peer.to_string() +
               " (not the target VM, " + vm_ + "); " + std::to_string(n) + " refused on this port");
    } catch (...) {
    }
    return false;
  }

 private:
  Filter f_;
  std::uint32_t port_;
  std::string vm_;
  std::shared_ptr<std::atomic<std::uint64_t>> refused_;
};

// ---- one connection -----------------------------------------------------------------

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", s);
  return b;
}

// Relays between the two until both directions have ended; logs the summary.
void relay_both(socket_side& client, socket_side& other, const mux_options& o,
                const std::string& tag, place& held) {
  relay r(client, other, o.relay);
  registered<relay> reg(&r);
  const relay_result res = r.run();
  reg.release();
  const bool cut = res.end != relay_end::normal;
  client.finish(cut);
  other.finish(cut);
  held.release();
  if (res.end == relay_end::failed && !o.verbose) log_line(tag + res.error);
  if (!o.verbose) return;
  std::string s = "closed after " + seconds(res.seconds) + " s: " + std::to_string(res.bytes[0]) +
                  " bytes " + client.name() + " -> " + other.name() + ", " +
                  std::to_string(res.bytes[1]) + " bytes back (" + res.method[0] + "/" +
                  res.method[1] + ")";
  switch (res.end) {
  case relay_end::normal: break;
  case relay_end::idle: s += "; idle timeout"; break;
  case relay_end::stopped: s += "; stopped"; break;
  case relay_end::failed: s += "; failed: " + res.error; break;
  }
  log_line(tag + s);
}

// Connects to `ep` by the connect timeout, cancellable by a stop.  On
// failure: nullopt and the library's message in `error` (empty when a stop
// cancelled it).
std::optional<vmsock::any_stream_socket> connect_to(const vmsock::any_endpoint& ep,
                                                    const mux_options& o, std::string& error) {
  vmsock::any_connector c;
  registered<vmsock::any_connector> reg(&c);
  try {
    return c.connect(ep, vmsock::deadline(o.connect_timeout));
  } catch (const std::system_error& e) {
    if (!(state.stopping() && e.code() == std::errc::operation_canceled)) error = e.what();
  }
  return std::nullopt;
}

std::string client_name(const vmsock::any_stream_socket& s) {
  std::string name = "client";
  if (const auto* u = s.get_if<vmsock::unix_endpoint>()) {
    std::error_code ec;
    const vmsock::credentials c = u->peer_credentials(ec);
    if (!ec && c.pid > 0) name += " pid " + std::to_string(c.pid);
  }
  return name;
}

// A host-side client of UDS_PATH: its line, the connect, OK, the relay.
void serve_client(std::uint64_t id, vmsock::any_stream_socket s, place& held,
                  const mux_options& o) {
  const std::string tag = "[" + std::to_string(id) + "] ";
  state.count.requests.fetch_add(1);
  const std::string name = client_name(s);
  registered<vmsock::any_stream_socket> pending(&s);  // a stop cancels the waits below
  auto drop = [&](const std::string& why, std::atomic<std::uint64_t>& counter) {
    counter.fetch_add(1);
    if (o.verbose && !state.stopping()) log_line(tag + name + ": " + why);
    pending.release();  // no stop cancels it any more: it is closed here
    std::error_code ignored;
    s.close(ignored);
  };

  const vmsock::deadline line_by(clock::now() + o.request_timeout);
  const mux::request_line line = mux::read_request_line(
      [&](vmsock::mutable_buffer b, vmsock::message_flags f, std::error_code& ec) -> std::size_t {
        if (f == vmsock::message_flags::none) return s.receive(b.data, b.size, line_by, ec);
        // A peek needs the Unix stream itself (the client's side always is one).
        auto* u = s.get_if<vmsock::unix_endpoint>();
        if (u == nullptr) {
          ec = std::make_error_code(std::errc::operation_not_supported);
          return 0;
        }
        if (!u->wait_readable(line_by, ec)) {
          if (!ec) ec = make_error_code(vmsock::errc::timed_out);
          return 0;
        }
        return u->receive(b, f, ec);
      });
  switch (line.end) {
  case mux::line_end::complete: break;
  case mux::line_end::too_long:
    return drop(
        "request longer than 32 bytes " + mux::quoted(line.raw()) + ": closed without an answer",
        state.count.malformed);
  case mux::line_end::closed:
    return drop("closed before the end of its request line " + mux::quoted(line.raw()),
                state.count.unfinished);
  case mux::line_end::timed_out:
    return drop("no complete request line within " +
                    seconds(std::chrono::duration<double>(o.request_timeout).count()) + " s " +
                    mux::quoted(line.raw()) + ": dropped",
                state.count.unfinished);
  case mux::line_end::failed: return drop("receive: " + line.ec.message(), state.count.unfinished);
  }
  const mux::request req = mux::parse_request(line.raw());
  if (!req.ok)
    return drop("malformed request " + mux::quoted(line.raw()) + " (" + req.why +
                    "): closed without an answer",
                state.count.malformed);
  const std::string asked = "CONNECT " + std::to_string(req.port);
  std::string why;
  const auto ep = o.target.at(req.port, why);
  if (!ep)
    return drop(asked + ": " + why + ": closed without an answer", state.count.connect_failed);

  std::string error;
  auto guest = connect_to(*ep, o, error);
  if (!guest) {
    if (error.empty()) return drop("stopped", state.count.connect_failed);
    return drop(asked + ": " + error + ": closed without an answer", state.count.connect_failed);
  }

  const std::uint32_t n = state.take_number();
  struct give_back_number {
    std::uint32_t n;
    ~give_back_number() { state.give_back(n); }
  } number{n};
  const std::string answer = "OK " + std::to_string(n) + "\n";
  std::error_code ec;
  s.send_all(answer.data(), answer.size(), vmsock::deadline(o.request_timeout), ec);
  if (ec) {
    std::error_code ignored;
    guest->close(ignored);
    return drop(asked + " -> " + ep->to_string() + ": sending \"OK " + std::to_string(n) +
                    "\": " + ec.message(),
                state.count.connect_failed);
  }
  pending.release();
  state.count.relayed.fetch_add(1);
  if (o.verbose)
    log_line(tag + name + ": " + asked + " -> " + ep->to_string() + ": OK " + std::to_string(n));
  socket_side client(std::move(s), name);
  socket_side other(std::move(*guest), ep->to_string());
  relay_both(client, other, o, tag, held);
}

// A connection of the guest to host port `port`: to UDS_PATH_port.
void serve_guest(std::uint64_t id, vmsock::any_stream_socket s, const vmsock::any_endpoint& peer,
                 place& held, std::uint32_t port, const vmsock::any_endpoint& forward,
                 const mux_options& o) {
  const std::string tag = "[" + std::to_string(id) + "] ";
  state.count.guest.fetch_add(1);
  const std::string name = peer.to_string();
  std::string error;
  auto local = connect_to(forward, o, error);
  if (!local) {
    state.count.guest_failed.fetch_add(1);
    if (o.verbose && !error.empty())
      log_line(tag + "guest " + name + " to port " + std::to_string(port) + ": " + error +
               ": closed");
    std::error_code ignored;
    s.close(ignored);
    return;
  }
  state.count.guest_relayed.fetch_add(1);
  if (o.verbose)
    log_line(tag + "guest " + name + " to port " + std::to_string(port) + " -> " +
             forward.to_string());
  socket_side guest(std::move(s), name);
  socket_side host(std::move(*local), forward.to_string());
  relay_both(guest, host, o, tag, held);
}

// ---- accepting: a pool of threads waiting in accept ---------------------------------

std::atomic<std::uint64_t> next_id{0};

// The threads that accept on one listener, as leader and followers: one
// thread (the leader) waits in accept; the others wait their turn on a
// condition variable, which wakes one of them at a time.  The leader that
// gets a connection hands the lead to a follower and serves the connection
// itself (its line, the connect, the answer, the relay), so a connection
// waits neither for a thread to be made nor for a hand-over between threads,
// and only one thread is woken by it (several threads in poll on one
// listener are all woken: each wake costs a context switch, milliseconds in
// the test guest).  When no follower is left the spawner makes one; a thread
// that has served follows again while fewer than `most_idle` do, and ends
// otherwise.  A steady stream of connections makes no thread at all.
class acceptor_pool {
 public:
  using handler = std::function<void(std::uint64_t id, vmsock::any_stream_socket s,
                                     const vmsock::any_endpoint& peer, place& held)>;

  acceptor_pool(vmsock::any_listener& l, std::size_t most_idle, handler h, const mux_options& o)
      : l_(l),
        most_idle_(most_idle),
        handler_(std::move(h)),
        o_(o),
        where_(l.local_endpoints().front().to_string()) {}
  acceptor_pool(const acceptor_pool&) = delete;
  acceptor_pool& operator=(const acceptor_pool&) = delete;

  // The spawner: keeps a thread to lead until a stop.
  void run() {
    std::unique_lock<std::mutex> lk(m_);
    while (!state.stopping()) {
      if (leader_ || followers_ != 0 || starting_ != 0) {
        spawner_cv_.wait(lk);  // the lead handed on with no follower, or a stop
        continue;
      }
      ++starting_;
      state.thread_started();
      lk.unlock();
      bool started = true;
      try {
        std::thread(&acceptor_pool::thread_main, this).detach();
      } catch (const std::system_error& e) {
        started = false;
        log_line("cannot start a thread to accept on " + where_ + ": " + e.what());
      }
      lk.lock();
      if (!started) {
        --starting_;
        state.thread_ended();
        spawner_cv_.wait_for(lk, std::chrono::seconds(1));  // and try again
      }
    }
  }
  // From mux_state::stop: every waiting thread and the spawner look again.
  void wake() {
    std::lock_guard<std::mutex> g(m_);
    followers_cv_.notify_all();
    spawner_cv_.notify_all();
  }

 private:
  void thread_main() {
    std::unique_lock<std::mutex> lk(m_);
    --starting_;
    for (;;) {
      while (leader_ && !state.stopping()) {
        if (followers_ >= most_idle_) return leave(lk);
        ++followers_;
        followers_cv_.wait(lk);
        --followers_;
      }
      if (state.stopping()) return leave(lk);
      leader_ = true;
      lk.unlock();
      vmsock::any_endpoint peer;
      std::error_code ec;
      auto s = l_.accept(vmsock::deadline::never(), &peer, ec);
      lk.lock();
      leader_ = false;
      if (followers_ != 0)
        followers_cv_.notify_one();
      else
        spawner_cv_.notify_one();
      if (ec) {
        if (state.stopping() || ec == std::errc::operation_canceled) return leave(lk);
        lk.unlock();
        log_line("accept on " + where_ + ": " + ec.message());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // EMFILE and the like
        lk.lock();
        continue;
      }
      lk.unlock();
      serve(std::move(s), peer);
      lk.lock();
    }
  }

  void serve(vmsock::any_stream_socket s, const vmsock::any_endpoint& peer) {
    const std::uint64_t id = ++next_id;
    if (!state.admit(o_.max_connections)) {
      state.count.capped.fetch_add(1);
      log_line("[" + std::to_string(id) + "] " + std::to_string(o_.max_connections) +
               " connections already: accepted on " + where_ + " and closed");
      std::error_code ignored;
      s.close(ignored);
      return;
    }
    place held;
    try {
      handler_(id, std::move(s), peer, held);
    } catch (const std::exception& e) {
      log_line("[" + std::to_string(id) + "] " + e.what());
    }
  }

  // The thread's end: the state's count last (after it the pool may be gone).
  void leave(std::unique_lock<std::mutex>& lk) {
    lk.unlock();
    state.thread_ended();
  }

  vmsock::any_listener& l_;
  const std::size_t most_idle_;
  handler handler_;
  const mux_options& o_;
  const std::string where_;
  std::mutex m_;
  std::condition_variable followers_cv_;
  std::condition_variable spawner_cv_;
  bool leader_ = false;
  std::size_t followers_ = 0;
  std::size_t starting_ = 0;  // made, not yet running
};

void mux_state::stop_one(acceptor_pool* p) { p->wake(); }

// ---- the command line ---------------------------------------------------------------

std::optional<mux_options> parse_mux(arguments& args) {
  mux_options o;
  std::vector<std::string> positional;
  bool only_positionals = false;
  while (!args.empty()) {
    const std::string a = args.take();
    if (only_positionals || a.empty() || a[0] != '-' || a == "-") {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    const option_text opt = split_option(a);
    const std::string& n = opt.name;
    auto flag = [&] {
      if (opt.value) throw usage_error("option " + n + " takes no value");
    };
    if (n == "-h" || n == "--help") {
      flag();
      print_help(mux_help);
      return std::nullopt;
    } else if (n == "-v" || n == "--verbose") {
      flag();
      o.verbose = true;
    } else if (n == "--guest-port") {
      const std::string v = args.value_of(n, opt.value);
      const auto num = parse_number(n, v, 0xFFFFFFFEu);
      if (num.too_large) throw usage_error(n + ": '" + v + "' is out of range (0 to 4294967294)");
      const auto p = static_cast<std::uint32_t>(num.value);
      if (std::find(o.guest_ports.begin(), o.guest_ports.end(), p) != o.guest_ports.end())
        throw usage_error(n + ": port " + std::to_string(p) + " given twice");
      o.guest_ports.push_back(p);
    } else if (n == "--max-connections") {
      const std::string v = args.value_of(n, opt.value);
      const auto num = parse_number(n, v, 1u << 20);
      if (num.too_large || num.value == 0)
        throw usage_error(n + ": '" + v + "' is out of range (1 to 1048576)");
      o.max_connections = static_cast<std::size_t>(num.value);
    } else if (n == "--request-timeout") {
      o.request_timeout = parse_duration(n, args.value_of(n, opt.value));
    } else if (n == "--connect-timeout") {
      o.connect_timeout = parse_duration(n, args.value_of(n, opt.value));
    } else if (n == "--idle-timeout") {
      o.relay.idle = parse_duration(n, args.value_of(n, opt.value));
    } else if (n == "-b" || n == "--buffer") {
      o.relay.buffer = parse_size(n, args.value_of(n, opt.value), 4096, 64u << 20);
    } else if (n == "--splice") {
      const std::string v = args.value_of(n, opt.value);
      if (v == "auto")
        o.relay.splice = splice_mode::automatic;
      else if (v == "always")
        o.relay.splice = splice_mode::always;
      else if (v == "never")
        o.relay.splice = splice_mode::never;
      else
        throw usage_error(n + ": '" + v + "' is not auto, always or never");
    } else {
      throw usage_error("unknown option '" + a + "'");
    }
  }
  if (positional.size() != 2)
    throw usage_error("UDS_PATH and TARGET are needed, got " + std::to_string(positional.size()) +
                      " argument" + (positional.size() == 1 ? "" : "s"));
  o.uds_path = positional[0];
  if (o.uds_path.empty()) throw usage_error("UDS_PATH is empty");
  o.target = parse_target(positional[1]);
  if (!o.guest_ports.empty() && !o.target.is_vm())
    throw usage_error("--guest-port needs a VM as TARGET (vsock://CID or hvsock://VM-ID); " +
                      o.target.text + " has no guest to listen for");
  return o;
}

}  // namespace

int run_mux(arguments& args) {
  const auto parsed = parse_mux(args);
  if (!parsed) return exit_ok;
  const mux_options& o = *parsed;

  // Every address first: a usage error before anything is opened.
  vmsock::any_endpoint uds;
  struct guest_listen {
    std::uint32_t port;
    vmsock::any_endpoint on;       // vsock://any:P, or the Hyper-V service of P
    vmsock::any_endpoint forward;  // unix://UDS_PATH_P
  };
  std::vector<guest_listen> guests;
  try {
    uds = vmsock::any_endpoint(vmsock::unix_endpoint::path(o.uds_path));
  } catch (const vmsock::parse_error& e) {
    throw usage_error(std::string("UDS_PATH: ") + e.what());
  }
  for (const std::uint32_t p : o.guest_ports) {
    guest_listen g{p, {}, {}};
    try {
      // The VMM's "<uds_path>_<port>", as a hybrid vsock listener names it.
      g.forward = vmsock::any_endpoint(vmsock::hybrid_vsock_endpoint(o.uds_path, p).listen_uds());
      if (o.target.what == mux_target::kind::vsock)
        g.on = vmsock::any_endpoint(vmsock::vsock_endpoint{vmsock::vsock::cid::any, p});
      else
        g.on = vmsock::any_endpoint(vmsock::hv_endpoint::for_port(vmsock::hv::vm_id::wildcard, p));
    } catch (const vmsock::parse_error& e) {
      throw usage_error("--guest-port " + std::to_string(p) + ": " + e.what());
    }
    guests.push_back(g);
  }

  prepare_process(&on_stop);

  vmsock::any_listener main_listener = vmsock::any_listener::listen_all({uds});
  registered<vmsock::any_listener> main_reg(&main_listener);
  if (o.verbose)
    log_line("listening on " + uds.to_string() + " for CONNECT requests to " + o.target.text);

  std::vector<std::unique_ptr<vmsock::any_listener>> guest_listeners;
  std::vector<std::unique_ptr<registered<vmsock::any_listener>>> guest_regs;
  for (const auto& g : guests) {
    auto l = std::make_unique<vmsock::any_listener>(vmsock::any_listener::listen_all({g.on}));
    if (o.target.what == mux_target::kind::vsock)
      l->set_peer_filter(
          guest_only<vmsock::peer::cids>(vmsock::peer::cids{o.target.cid}, g.port, o.target.text));
    else
      l->set_peer_filter(guest_only<vmsock::peer::vm_ids>(vmsock::peer::vm_ids{o.target.vm}, g.port,
                                                          o.target.text));
    guest_regs.push_back(std::make_unique<registered<vmsock::any_listener>>(l.get()));
    if (o.verbose)
      log_line("listening on " + l->local_endpoints().front().to_string() + " for " +
               o.target.text + " (guest port " + std::to_string(g.port) + ") -> " +
               g.forward.to_string());
    guest_listeners.push_back(std::move(l));
  }

  // One thread waits in accept on each listener, up to four more wait to
  // take its place (acceptor_pool); this thread keeps the pool of UDS_PATH
  // going, one more each guest port's.
  constexpr std::size_t most_idle = 4;
  acceptor_pool clients(
      main_listener, most_idle,
      [&o](std::uint64_t id, vmsock::any_stream_socket s, const vmsock::any_endpoint&,
           place& held) { serve_client(id, std::move(s), held, o); },
      o);
  registered<acceptor_pool> clients_reg(&clients);
  std::vector<std::unique_ptr<acceptor_pool>> guest_pools;
  std::vector<std::unique_ptr<registered<acceptor_pool>>> guest_pool_regs;
  std::vector<std::thread> spawners;
  for (std::size_t i = 0; i < guests.size(); ++i) {
    const guest_listen& g = guests[i];
    guest_pools.push_back(std::make_unique<acceptor_pool>(
        *guest_listeners[i], most_idle,
        [&o, &g](std::uint64_t id, vmsock::any_stream_socket s, const vmsock::any_endpoint& peer,
                 place& held) { serve_guest(id, std::move(s), peer, held, g.port, g.forward, o); },
        o));
    guest_pool_regs.push_back(
        std::make_unique<registered<acceptor_pool>>(guest_pools.back().get()));
    spawners.emplace_back(&acceptor_pool::run, guest_pools.back().get());
  }
  clients.run();
  for (auto& t : spawners) t.join();

  // Stopped: every wait was cancelled; the connections end now.
  const std::size_t left = state.wait_idle(std::chrono::seconds(3));
  std::uint64_t refused = 0;
  for (const auto& l : guest_listeners) refused += l->rejected_peers();
  if (o.verbose) {
    const counters& c = state.count;
    std::string s = "stopped by signal " + std::to_string(state.signal.load()) + ": " +
                    std::to_string(c.requests.load()) + " requests (" +
                    std::to_string(c.relayed.load()) + " relayed, " +
                    std::to_string(c.malformed.load()) + " malformed, " +
                    std::to_string(c.unfinished.load()) + " unfinished, " +
                    std::to_string(c.connect_failed.load()) + " not connected), " +
                    std::to_string(c.capped.load()) + " closed at the cap";
    if (!guests.empty())
      s += "; guest: " + std::to_string(c.guest.load()) + " connections (" +
           std::to_string(c.guest_relayed.load()) + " relayed, " +
           std::to_string(c.guest_failed.load()) + " not connected), " + std::to_string(refused) +
           " refused by the peer filter";
    log_line(s);
  }
  if (left != 0) {
    // Only what cannot be cancelled (a Hyper-V connect on Windows, which
    // ends by the OS's own timeout): the socket files go now, the process
    // with them.
    log_line(std::to_string(left) + " connection" + (left == 1 ? "" : "s") +
             " did not end within 3 s of the stop");
    guest_regs.clear();
    guest_listeners.clear();
    main_reg.release();
    main_listener = vmsock::any_listener{};
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(exit_ok);
  }
  return exit_ok;
}

}  // namespace vmsock_cli
