// echo_server: listens on one or more endpoint URIs at once and echoes every
// connection back to its sender, one thread per connection.
//
//   echo_server URI [URI...] [--count N] [--ready-file PATH]
//
//   URI            tcp://127.0.0.1:5000, tcp://[::1]:5000 (port 0: the OS picks
//                  one), unix:///tmp/echo.sock, unix://@echo (Linux abstract
//                  name), vsock://any:5000, hvsock://wildcard/5000.  With
//                  several, one accept loop serves them all (vmsock::listen_all):
//                  e.g. vsock://any:5000 tcp://127.0.0.1:5000
//   --count N      exit once N connections have been served (for tests)
//   --ready-file   once listening, write the bound URIs to PATH, one per line
//                  in the order given (how a script learns the port the OS
//                  picked for port 0)
//
// Exit codes: 0 done, 1 a socket error (listen, accept, or a connection that
// failed under --count), 2 a usage or URI error.
#include "echo.hpp"

#include <vmsock/socket.hpp>
#include <vmsock/uri.hpp>

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr std::string_view usage =
    "usage: echo_server URI [URI...] [--count N] [--ready-file PATH]\n"
    "  URI: tcp://127.0.0.1:PORT, tcp://[::1]:PORT, unix:///PATH, unix://@ABSTRACT,\n"
    "       vsock://CID:PORT (CID any to listen on every CID), hvsock://VM/SERVICE;\n"
    "       several URIs: one server listening on all of them\n"
    "  --count N          exit after N connections (default: serve forever)\n"
    "  --ready-file PATH  write the bound URIs to PATH, one per line, once listening\n";

struct options {
  std::vector<std::string> uris;
  std::uint64_t count = 0;  // 0: forever
  std::string ready_file;
};

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--count") {
      o.count = examples::parse_size(a, examples::option_value(argc, argv, i));
      if (o.count == 0) throw examples::usage_error("--count must be at least 1");
    } else if (a == "--ready-file") {
      o.ready_file = std::string(examples::option_value(argc, argv, i));
    } else {
      examples::take_uri_argument(a, o.uris);
    }
  }
  if (o.uris.empty()) throw examples::usage_error("no endpoint URI given");
  if (o.uris.size() > vmsock::any_listener::max_listeners)
    throw examples::usage_error(
        fmt::format("at most {} URIs, one listener each", vmsock::any_listener::max_listeners));
  return o;
}

// One line to stdout, flushed at once so it interleaves sensibly with a client
// that writes to the same log.
template <class... Args>
void say(std::FILE* f, fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(f, "echo_server: {}\n", fmt::format(format, std::forward<Args>(args)...));
  std::fflush(f);
}

// Writes the file under a temporary name first, so a reader never sees half of it.
void write_ready_file(const std::string& path, const std::vector<vmsock::any_endpoint>& bound) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    for (const auto& ep : bound) f << ep.to_string() << '\n';
    if (!f.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

// Counts the connections still being served and those that failed.
class connections {
 public:
  void started() {
    std::lock_guard<std::mutex> lock(m_);
    ++active_;
  }
  void finished(bool ok) {
    std::lock_guard<std::mutex> lock(m_);
    --active_;
    if (!ok) ++failed_;
    cv_.notify_all();
  }
  // Waits for every connection; returns how many failed.
  std::uint64_t wait_all() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return active_ == 0; });
    return failed_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::uint64_t active_ = 0;
  std::uint64_t failed_ = 0;
};

// The path of a Unix socket file `ep` names, or empty (another family, an
// abstract name).
std::string socket_file_of(const vmsock::any_endpoint& ep) {
  const auto* u = ep.get_if<vmsock::unix_endpoint>();
  if (u != nullptr && u->type() == vmsock::unix_endpoint::kind::path) return std::string(u->name());
  return {};
}

// Removes the Unix socket files this server created when it goes: the files
// of its listeners, or of those it bound before one of them failed.
class socket_files {
 public:
  socket_files() = default;
  socket_files(const socket_files&) = delete;
  socket_files& operator=(const socket_files&) = delete;
  ~socket_files() {
    for (const auto& path : paths_) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  }
  void add(const vmsock::any_endpoint& ep) {
    std::string path = socket_file_of(ep);
    if (!path.empty()) paths_.push_back(std::move(path));
  }

 private:
  std::vector<std::string> paths_;
};

// listen_all over every endpoint.  When one fails, the error names it as the
// library's does (a Unix socket file already there gets a hint too).
vmsock::any_listener listen(const std::vector<vmsock::any_endpoint>& eps, socket_files& files) {
  std::error_code ec;
  std::size_t failed = 0;
  auto l = vmsock::any_listener::listen_all(eps, vmsock::default_policy::max_backlog, ec, &failed);
  if (!ec) {
    for (const auto& ep : l.local_endpoints()) files.add(ep);
    return l;
  }
  if (failed >= eps.size()) throw std::system_error(ec, "listen_all");
  // All or nothing: the listeners before the failed one are closed again, but
  // the socket files they bound are still there, and ours to remove.
  for (std::size_t i = 0; i < failed; ++i) files.add(eps[i]);
  const std::string path = socket_file_of(eps[failed]);
  if (ec == std::errc::address_in_use && !path.empty())
    say(stderr,
        "{} exists: another server uses it, or an earlier run left it behind "
        "(then remove it)",
        path);
  throw std::system_error(ec, "listen_all: listen on " + eps[failed].to_string());
}

int serve(const std::vector<vmsock::any_endpoint>& where, const options& o) {
  socket_files files;  // destroyed last: the files go once the listeners are closed
  vmsock::any_listener l = listen(where, files);
  const std::vector<vmsock::any_endpoint>& bound = l.local_endpoints();
  const std::string uris = examples::join_uris(bound);

  if (o.count != 0)
    say(stdout, "listening on {}, for {} connection{}", uris, o.count, o.count == 1 ? "" : "s");
  else
    say(stdout, "listening on {}", uris);
  if (!o.ready_file.empty()) write_ready_file(o.ready_file, bound);

  connections live;
  for (std::uint64_t id = 1; o.count == 0 || id <= o.count; ++id) {
    vmsock::any_endpoint peer;
    vmsock::any_stream_socket s;
    try {
      s = l.accept(vmsock::no_timeout, &peer);
    } catch (const std::system_error& e) {
      if (o.count != 0) throw;
      say(stderr, "{}", e.what());  // serving forever: report it and go on (EMFILE passes)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      --id;
      continue;
    }
    live.started();
    std::thread([&live, id, peer, s = std::move(s)]() mutable {
      const std::string from = examples::describe(peer);
      const std::string_view transport = vmsock::to_string(s.scheme());
      const auto start = examples::clock::now();
      bool ok = true;
      try {
        const std::uint64_t n = examples::echo_connection(s);
        say(stdout, "connection {} over {} from {}: echoed {} in {:.3f} s", id, transport, from,
            examples::human_bytes(n), examples::seconds_since(start));
      } catch (const std::exception& e) {
        say(stderr, "connection {} over {} from {}: {}", id, transport, from, e.what());
        ok = false;
      }
      std::error_code ignored;
      s.close(ignored);
      live.finished(ok);
    }).detach();
  }
  const std::uint64_t failed = live.wait_all();
  say(stdout, "served {} connection{}, {} failed", o.count, o.count == 1 ? "" : "s", failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("echo_server", usage, argc, argv, [&] {
    const options o = parse_options(argc, argv);
    return serve(examples::parse_stream_uris(o.uris), o);
  });
}
