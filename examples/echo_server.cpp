// echo_server: listens on an endpoint URI and echoes every connection back to
// its sender, one thread per connection.
//
//   echo_server URI [--count N] [--ready-file PATH]
//
//   URI            tcp://127.0.0.1:5000, tcp://[::1]:5000 (port 0: the OS picks
//                  one), unix:///tmp/echo.sock, unix://@echo (Linux abstract
//                  name), vsock://any:5000, hvsock://wildcard/5000
//   --count N      exit once N connections have been served (for tests)
//   --ready-file   once listening, write the bound URI to PATH (how a script
//                  learns the port the OS picked for port 0)
//
// Exit codes: 0 done, 1 a socket error (listen, accept, or a connection that
// failed under --count), 2 a usage error.
#include "echo.hpp"
#include "uri_dispatch.hpp"

#include <vmsock/fmt.hpp>
#include <vmsock/socket.hpp>

#include <fmt/format.h>

#include <condition_variable>
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
#include <type_traits>
#include <utility>

namespace {

constexpr std::string_view usage =
    "usage: echo_server URI [--count N] [--ready-file PATH]\n"
    "  URI: tcp://127.0.0.1:PORT, tcp://[::1]:PORT, unix:///PATH, unix://@ABSTRACT,\n"
    "       vsock://CID:PORT (CID any to listen on every CID), hvsock://VM/SERVICE\n"
    "  --count N          exit after N connections (default: serve forever)\n"
    "  --ready-file PATH  write the bound URI to PATH once listening\n";

struct options {
  std::string uri;
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
      examples::take_uri_argument(a, o.uri);
    }
  }
  if (o.uri.empty()) throw examples::usage_error("no endpoint URI given");
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
void write_ready_file(const std::string& path, const std::string& uri) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << uri << '\n';
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

template <class Endpoint>
int serve(const Endpoint& where, const options& o) {
  vmsock::listener<Endpoint> l;
  try {
    l = vmsock::listener<Endpoint>::listen(where);
  } catch (const std::system_error& e) {
    if constexpr (std::is_same_v<Endpoint, vmsock::unix_endpoint>)
      if (e.code() == std::errc::address_in_use && where.type() == vmsock::unix_endpoint::kind::path)
        say(stderr, "{} exists: another server uses it, or an earlier run left it behind (then remove it)", where.name());
    throw;
  }
  const Endpoint bound = l.local_endpoint();
  const std::string uri = examples::stream_uri(bound);
  // A Unix socket file is ours to remove once we are done with it.
  struct unlink_on_exit {
    std::string path;
    ~unlink_on_exit() {
      std::error_code ignored;
      if (!path.empty()) std::filesystem::remove(path, ignored);
    }
  } socket_file;
  if constexpr (std::is_same_v<Endpoint, vmsock::unix_endpoint>)
    if (bound.type() == vmsock::unix_endpoint::kind::path) socket_file.path = std::string(bound.name());

  if (o.count != 0)
    say(stdout, "listening on {}, for {} connection{}", uri, o.count, o.count == 1 ? "" : "s");
  else
    say(stdout, "listening on {}", uri);
  if (!o.ready_file.empty()) write_ready_file(o.ready_file, uri);

  connections live;
  for (std::uint64_t id = 1; o.count == 0 || id <= o.count; ++id) {
    Endpoint peer{};
    vmsock::stream_socket<Endpoint> s;
    try {
      s = l.accept(peer);
    } catch (const std::system_error& e) {
      if (o.count != 0) throw;
      say(stderr, "{}", e.what());  // serving forever: report it and go on (EMFILE passes)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      --id;
      continue;
    }
    live.started();
    std::thread([&live, id, peer, s = std::move(s)]() mutable {
      std::string from = examples::stream_uri(peer);
      if (from == "unix://") from = "an unnamed Unix socket";
      const auto start = examples::clock::now();
      bool ok = true;
      try {
        const std::uint64_t n = examples::echo_connection(s);
        say(stdout, "connection {} from {}: echoed {} in {:.3f} s", id, from,
            examples::human_bytes(n), examples::seconds_since(start));
      } catch (const std::exception& e) {
        say(stderr, "connection {} from {}: {}", id, from, e.what());
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
    return examples::visit_stream_endpoint(o.uri, [&](const auto& ep) { return serve(ep, o); });
  });
}
