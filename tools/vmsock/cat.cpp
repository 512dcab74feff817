// vmsock cat ADDR ADDR: a bidirectional relay between two addresses.
#include "cat.hpp"
#include "cli.hpp"
#include "relay.hpp"
#include "socket_sides.hpp"

#include <vmsock/any/connector.hpp>
#include <vmsock/any/connect_first.hpp>
#include <vmsock/any/listener.hpp>
#include <vmsock/socket/datagram_socket.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
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

using namespace cat;

namespace {

constexpr const char* cat_help =
    "usage: vmsock cat [options] ADDR ADDR\n"
    "\n"
    "Relays bytes both ways between two addresses until both directions have ended.\n"
    "The end of the stream on either side is passed on: the other side's write end is\n"
    "shut down, and the other direction goes on.\n"
    "\n"
    "addresses:\n"
    "  URI[,URI...]        connect: tcp://ADDR:PORT, tcp://[ADDR6]:PORT, unix:///PATH,\n"
    "                      unix://@NAME, vsock://CID:PORT, hvsock://VM/SERVICE, udp://...,\n"
    "                      hybrid-vsock:///UDS:PORT (a Firecracker or Cloud Hypervisor\n"
    "                      guest's PORT through the VMM's Unix socket UDS: \"CONNECT PORT\",\n"
    "                      the VMM's \"OK ...\", then the guest's stream).\n"
    "                      With several, each is tried in turn (as connect_first does)\n"
    "                      and a failure lists every attempt.\n"
    "  listen:URI[,URI...] listen (on every URI at once) and accept one connection;\n"
    "                      listen:hybrid-vsock:///UDS:PORT takes the guest's connection\n"
    "                      to host port PORT (the VMM connects to UDS_PORT)\n"
    "  -                   stdin and stdout\n"
    "  exec:COMMAND        a child's stdin and stdout, through a pipe pair (POSIX: run\n"
    "                      by /bin/sh -c; Windows: the command line as CreateProcess takes it)\n"
    "\n"
    "options:\n"
    "  --fork, --keep-listening\n"
    "                      serve every connection to the listen: address, at once, each\n"
    "                      with its own connection to (or child of) the other address\n"
    "  --max-connections N with --fork: at most N at a time; more wait in the listen\n"
    "                      backlog (default 256)\n"
    "  --connect-timeout T give up a connect (each URI of a list) after T\n"
    "  --wait-for-ready    retry a connect while its peer is not up yet (refused, no\n"
    "                      socket file yet, a VMM's silent close), pausing 25 ms to 1 s\n"
    "                      between attempts, until --connect-timeout (then one deadline\n"
    "                      for the whole list) or, without it, until a signal\n"
    "  --idle-timeout T    end a relay when no byte has moved either way for T\n"
    "  -b, --buffer SIZE   bytes per direction (copy buffer, splice pipe), default 256K\n"
    "  --splice MODE       how socket-to-socket bytes move on Linux: auto (default:\n"
    "                      splice(2) into Unix sockets, the copy loop elsewhere, as\n"
    "                      measured), always (splice every socket pair), never\n"
    "                      (always the copy loop)\n"
    "  -v, --verbose       log each connection: endpoints, bytes each way, duration\n"
    "  --stats             print totals and MB/s at the end\n"
    "  -h, --help          this text\n"
    "\n"
    "T is a duration (500ms, 5s, 2m; seconds when no unit).  udp:// sends each chunk as a\n"
    "datagram and, having no end of stream, ends 0.5 s after the other direction ended\n"
    "and it fell quiet.  Log lines go to stderr.  SIGINT/SIGTERM end the relays (exit\n"
    "128+signal).\n"
    "\n"
    "examples:\n"
    "  vmsock cat --fork listen:tcp://0.0.0.0:8080 vsock://3:5000   guest service on a host port\n"
    "  vmsock cat --fork listen:vsock://any:8080 tcp://127.0.0.1:80  host service for guests\n"
    "  vmsock cat - hvsock://parent/5000                             stdin over hvsock\n"
    "  vmsock cat - hybrid-vsock:///run/fc.vsock:5000                a Firecracker guest's port\n"
    "\n"
    "Exit status: 0 when the relay ended (or was idle), 1 on a failure (the message\n"
    "says which), 2 on a usage error.\n";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

address parse_address(const std::string& text, int index) {
  address a;
  a.text = text;
  const std::string where = "address " + std::to_string(index + 1);
  if (text.empty()) throw usage_error(where + " is empty");
  if (text == "-") {
    a.what = address::kind::stdio;
    return a;
  }
  if (text.compare(0, 5, "exec:") == 0) {
    a.what = address::kind::exec;
    a.command = text.substr(5);
    if (a.command.empty()) throw usage_error(where + ": exec: needs a command");
    return a;
  }
  std::string list = text;
  if (text.compare(0, 7, "listen:") == 0) {
    a.what = address::kind::listen;
    list = text.substr(7);
    if (list.empty()) throw usage_error(where + ": listen: needs a URI");
  }
  const auto uris = split_list(list);
  for (std::size_t i = 0; i < uris.size(); ++i) {
    const std::string entry = uris.size() > 1 ? where + ", entry " + std::to_string(i + 1) +
                                                    " of " + std::to_string(uris.size())
                                              : where;
    try {
      a.eps.push_back(vmsock::any_endpoint::parse(uris[i]));
    } catch (const vmsock::parse_error& e) {
      throw usage_error(entry + ": " + e.what());
    }
    if (a.eps.back().type() != vmsock::socket_type::stream) {
      if (a.what == address::kind::listen)
        throw usage_error(entry +
                          ": listen: takes stream URIs (tcp, unix, vsock, hvsock, hybrid-vsock); " +
                          a.eps.back().to_string() + " has no connections to accept");
      if (uris.size() > 1)
        throw usage_error(entry + ": " + a.eps.back().to_string() +
                          " is a datagram endpoint; a list of URIs to try takes stream endpoints");
    }
  }
  return a;
}

// ---- stopping (signals) ------------------------------------------------------------

void on_stop(int sig) {
  {
    std::lock_guard<std::mutex> g(stops.m);
    stops.signal.store(sig);
    for (auto* l : stops.listeners) l->cancel();
    for (auto* c : stops.connectors) c->cancel();
    for (auto* r : stops.relays) r->stop(relay_end::stopped);
  }
  // What cannot be cancelled gets 3 s: a Hyper-V connect on a Windows host
  // (the OS's own connect timeout ends it, nothing earlier), a child that
  // ignores the end of its stdin.
  std::thread([sig] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    if (stops.print_stats && stops.stats) stops.stats->print();
    log_line("stopped by signal " + std::to_string(sig) + " (not everything ended in 3 s)");
    std::fflush(stdout);
    std::_Exit(128 + sig);
  }).detach();
}

// ---- opening addresses ------------------------------------------------------------

template <class E> std::unique_ptr<side> open_udp(const E& ep, const vmsock::deadline& when) {
  auto s = vmsock::datagram_socket<E>::connect(ep, when);
  return std::make_unique<udp_side<E>>(std::move(s), "udp://" + ep.to_string());
}

std::unique_ptr<side> accept_on(vmsock::any_listener& l, const cat_options& o,
                                const std::string& tag) {
  vmsock::any_endpoint peer;
  auto s = l.accept(vmsock::deadline::never(), &peer);
  std::string name = name_accepted(s, peer);
  if (o.verbose) {
    std::error_code ec;
    const auto local = s.local_endpoint(ec);
    log_line(tag + "accepted " + name + (ec ? std::string() : " on " + local.to_string()));
  }
  return std::make_unique<socket_side>(std::move(s), std::move(name));
}

std::string summary(const relay_result& r, const side& left, const side& right) {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", r.seconds);
  std::string s = std::string("closed after ") + secs + " s: " + std::to_string(r.bytes[0]) +
                  " bytes " + left.name() + " -> " + right.name() + ", " +
                  std::to_string(r.bytes[1]) + " bytes back (" + r.method[0] + "/" + r.method[1] +
                  ")";
  switch (r.end) {
  case relay_end::normal: break;
  case relay_end::idle: s += "; idle timeout"; break;
  case relay_end::stopped: s += "; stopped"; break;
  case relay_end::failed: s += "; failed: " + r.error; break;
  }
  for (const side* x : {&left, &right}) {
    const std::string note = x->finish_note();
    if (!note.empty()) s += "; " + x->name() + ": " + note;
  }
  return s;
}

// ---- the command line -------------------------------------------------------------

struct parsed_cat {
  cat_options o;
  std::vector<address> addrs;
};

parsed_cat parse_cat(arguments& args, bool& helped) {
  parsed_cat p;
  helped = false;
  std::vector<std::string> texts;
  bool only_addresses = false;
  bool max_given = false;
  while (!args.empty()) {
    const std::string a = args.take();
    if (only_addresses || a == "-" || a.empty() || a[0] != '-') {
      texts.push_back(a);
      continue;
    }
    if (a == "--") {
      only_addresses = true;
      continue;
    }
    const option_text opt = split_option(a);
    const std::string& n = opt.name;
    auto flag = [&] {
      if (opt.value) throw usage_error("option " + n + " takes no value");
    };
    if (n == "-h" || n == "--help") {
      flag();
      print_help(cat_help);
      helped = true;
      return p;
    } else if (n == "-v" || n == "--verbose") {
      flag();
      p.o.verbose = true;
    } else if (n == "--stats") {
      flag();
      p.o.stats = true;
    } else if (n == "--fork" || n == "--keep-listening") {
      flag();
      p.o.fork = true;
    } else if (n == "--max-connections") {
      const std::string v = args.value_of(n, opt.value);
      const auto num = parse_number(n, v, 1u << 20);
      if (num.too_large || num.value == 0)
        throw usage_error(n + ": '" + v + "' is out of range (1 to 1048576)");
      p.o.max_connections = static_cast<std::size_t>(num.value);
      max_given = true;
    } else if (n == "--connect-timeout") {
      p.o.connect_timeout = parse_duration(n, args.value_of(n, opt.value));
    } else if (n == "--wait-for-ready") {
      flag();
      p.o.wait_for_ready = true;
    } else if (n == "--idle-timeout") {
      p.o.relay.idle = parse_duration(n, args.value_of(n, opt.value));
    } else if (n == "-b" || n == "--buffer") {
      p.o.relay.buffer = parse_size(n, args.value_of(n, opt.value), 4096, 64u << 20);
    } else if (n == "--splice") {
      const std::string v = args.value_of(n, opt.value);
      if (v == "auto")
        p.o.relay.splice = splice_mode::automatic;
      else if (v == "always")
        p.o.relay.splice = splice_mode::always;
      else if (v == "never")
        p.o.relay.splice = splice_mode::never;
      else
        throw usage_error(n + ": '" + v + "' is not auto, always or never");
    } else {
      throw usage_error("unknown option '" + a + "'");
    }
  }
  if (texts.size() != 2)
    throw usage_error(texts.size() < 2
                          ? "two addresses are needed, got " + std::to_string(texts.size())
                          : "two addresses only, got " + std::to_string(texts.size()) +
                                " (several URIs for one address go with ',')");
  for (int i = 0; i < 2; ++i)
    p.addrs.push_back(parse_address(texts[static_cast<std::size_t>(i)], i));
  const auto k0 = p.addrs[0].what;
  const auto k1 = p.addrs[1].what;
  using K = address::kind;
  if (k0 == K::stdio && k1 == K::stdio)
    throw usage_error("'-' (stdin/stdout) can be only one of the two addresses");
  if (max_given && !p.o.fork) throw usage_error("--max-connections goes with --fork");
  if (p.o.fork) {
    if (k0 == K::listen && k1 == K::listen)
      throw usage_error(
          "--fork serves one listen: address; the other is opened for each connection");
    if (k0 != K::listen && k1 != K::listen) throw usage_error("--fork needs a listen: address");
    const K other = k0 == K::listen ? k1 : k0;
    if (other == K::stdio)
      throw usage_error(
          "--fork opens the other address for each connection: '-' (stdin/stdout) "
          "cannot be opened more than once");
  }
  return p;
}

}  // namespace

// ---- shared with cat_fork.cpp (cat.hpp) ------------------------------------------

namespace cat {

std::mutex log_mutex;
void log_line(const std::string& line) {
  std::lock_guard<std::mutex> g(log_mutex);
  std::fprintf(stderr, "vmsock cat: %s\n", line.c_str());
  std::fflush(stderr);
}

stop_registry stops;

std::string name_accepted(vmsock::any_stream_socket& s, const vmsock::any_endpoint& peer) {
  std::string name = peer.to_string();
  const auto* u = peer.get_if<vmsock::unix_endpoint>();
  if (u && u->is_unnamed()) {  // an unnamed Unix peer: say where it came in
    std::error_code ec;
    const auto local = s.local_endpoint(ec);
    name = ec ? "a Unix peer" : "a Unix peer on " + local.to_string();
  }
  return name;
}

// Opens a connect, stdio or exec address (a listen address is accepted on).
std::unique_ptr<side> open_address(const address& a, const cat_options& o, const std::string& tag) {
  switch (a.what) {
  case address::kind::stdio: return make_stdio_side();
  case address::kind::exec: {
    auto s = make_exec_side(a.command);
    if (o.verbose) log_line(tag + "started " + s->name());
    return s;
  }
  case address::kind::listen: break;
  case address::kind::connect: {
    const vmsock::timeout per_attempt = o.connect_timeout.value_or(vmsock::no_timeout);
    if (a.eps.size() == 1 && a.eps[0].type() == vmsock::socket_type::datagram) {
      if (const auto* v4 = a.eps[0].get_if<vmsock::inet4_endpoint>())
        return open_udp(*v4, per_attempt);
      return open_udp(*a.eps[0].get_if<vmsock::inet6_endpoint>(), per_attempt);
    }
    // A signal cancels the connect in progress (stop_registry).
    vmsock::any_connector connector;
    struct registration {
      vmsock::any_connector& c;
      explicit registration(vmsock::any_connector& x) : c(x) { stops.add(&c); }
      ~registration() { stops.remove(&c); }
    } registered(connector);
    vmsock::any_stream_socket s;
    if (a.eps.size() == 1) {
      s = o.wait_for_ready ? connector.connect(a.eps[0], per_attempt, vmsock::wait_for_ready{})
                           : connector.connect(a.eps[0], per_attempt);
    } else {
      std::vector<vmsock::connect_attempt> failed;
      s = o.wait_for_ready
              ? connector.connect_first(a.eps, per_attempt, vmsock::wait_for_ready{}, failed)
              : connector.connect_first(a.eps, per_attempt, failed);
      if (o.verbose)
        for (const auto& f : failed)
          log_line(tag + f.endpoint.to_string() + (f.skipped ? ": skipped: " : ": ") +
                   f.error.message());
    }
    std::string name = s.remote().to_string();
    if (o.verbose) log_line(tag + "connected to " + name);
    return std::make_unique<socket_side>(std::move(s), std::move(name));
  }
  }
  throw failure("internal: open_address on a listen address");
}

// Runs one relay between two open sides, registered for stopping; finishes
// both sides; logs.
relay_result relay_pair(side& left, side& right, const cat_options& o, const std::string& tag,
                        totals& t) {
  relay r(left, right, o.relay);
  const auto start = clock::now();
  stops.add(&r);
  relay_result res = r.run();
  stops.remove(&r);
  const bool cut = res.end != relay_end::normal;
  left.finish(cut);
  right.finish(cut);
  t.add(res, start, clock::now());
  if (o.verbose) log_line(tag + summary(res, left, right));
  return res;
}

}  // namespace cat

int run_cat(arguments& args) {
  bool helped = false;
  parsed_cat p = parse_cat(args, helped);
  if (helped) return exit_ok;
  const cat_options& o = p.o;

  totals t;
  stops.stats = &t;
  stops.print_stats = o.stats;
  prepare_process(&on_stop);
  struct print_at_end {
    totals& t;
    bool on;
    ~print_at_end() {
      if (on) t.print();
    }
  } stats_guard{t, o.stats};

  // Every listener first, so that an address in use is reported before
  // anything is connected or accepted.
  vmsock::any_listener listeners[2];
  for (int i = 0; i < 2; ++i) {
    if (p.addrs[static_cast<std::size_t>(i)].what != address::kind::listen) continue;
    listeners[i] = vmsock::any_listener::listen_all(p.addrs[static_cast<std::size_t>(i)].eps);
    {
      std::lock_guard<std::mutex> g(stops.m);
      stops.listeners.push_back(&listeners[i]);
      if (stops.stopping()) listeners[i].cancel();
    }
    if (o.verbose) {
      std::string where;
      for (const auto& ep : listeners[i].local_endpoints())
        where += (where.empty() ? "" : ", ") + ep.to_string();
      log_line("listening on " + where);
    }
  }
  auto stopped_code = [] { return stops.signal.load() != 0 ? 128 + stops.signal.load() : exit_ok; };

  if (o.fork) {
    const int li = p.addrs[0].what == address::kind::listen ? 0 : 1;
    serve_each(listeners[li], li, p.addrs[static_cast<std::size_t>(1 - li)], o, t);
    return stopped_code();
  }

  std::unique_ptr<side> sides[2];
  const std::string tag = "[1] ";
  for (int i = 0; i < 2; ++i) {
    const address& a = p.addrs[static_cast<std::size_t>(i)];
    try {
      if (a.what == address::kind::listen) {
        sides[i] = accept_on(listeners[i], o, tag);
        std::lock_guard<std::mutex> g(stops.m);  // on_stop may be cancelling it
        listeners[i] = vmsock::any_listener{};   // one connection: later ones are refused
      } else {
        sides[i] = open_address(a, o, tag);
      }
    } catch (const std::system_error& e) {
      if (stops.stopping() && e.code() == std::errc::operation_canceled) return stopped_code();
      t.add_failed();
      throw;
    }
  }
  const relay_result r = relay_pair(*sides[0], *sides[1], o, tag, t);
  if (r.end == relay_end::failed) throw failure(r.error);
  if (r.end == relay_end::stopped) return stopped_code();
  return exit_ok;
}

}  // namespace vmsock_cli
