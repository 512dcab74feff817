// vmsock cat --fork: a listen address served connection after connection,
// each relayed on a thread of its own to a fresh opening of the other address.
#include "cat.hpp"
#include "socket_sides.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace vmsock_cli {
namespace cat {
namespace {

class server {
 public:
  server(vmsock::any_listener& l, int listen_index, const address& other, const cat_options& o,
         totals& t)
      : l_(l), listen_index_(listen_index), other_(other), o_(o), t_(t) {}

  void run() {
    const std::size_t max = o_.max_connections != 0 ? o_.max_connections : 256;
    std::uint64_t id = 0;
    while (!stops.stopping()) {
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [&] { return active_ < max || stops.stopping(); });
        if (stops.stopping()) break;
      }
      vmsock::any_endpoint peer;
      std::error_code ec;
      auto s = l_.accept(vmsock::deadline::never(), &peer, ec);
      if (ec) {
        if (stops.stopping() || ec == std::errc::operation_canceled) break;
        log_line("accept: " + ec.message());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // EMFILE and the like
        continue;
      }
      ++id;
      {
        std::lock_guard<std::mutex> g(m_);
        ++active_;
      }
      try {
        std::thread(&server::serve, this, id, std::move(s), peer).detach();
      } catch (const std::system_error& e) {
        log_line("[" + std::to_string(id) + "] cannot start a thread: " + e.what());
        t_.add_failed();
        done();
      }
    }
    // Stopped: every relay and connect in progress was cancelled; they end
    // (what cannot be cancelled, by the 3 s fallback of on_stop).
    std::unique_lock<std::mutex> g(m_);
    cv_.wait(g, [&] { return active_ == 0; });
  }

 private:
  void serve(std::uint64_t id, vmsock::any_stream_socket s, vmsock::any_endpoint peer) {
    const std::string tag = "[" + std::to_string(id) + "] ";
    try {
      std::string name = name_accepted(s, peer);
      if (o_.verbose) {
        std::error_code ec;
        const auto local = s.local_endpoint(ec);
        log_line(tag + "accepted " + name + (ec ? std::string() : " on " + local.to_string()));
      }
      socket_side accepted(std::move(s), std::move(name));
      std::unique_ptr<side> other;
      try {
        other = open_address(other_, o_, tag);
      } catch (const std::exception& e) {
        const auto* se = dynamic_cast<const std::system_error*>(&e);
        const bool stopped = stops.stopping() && se && se->code() == std::errc::operation_canceled;
        if (!stopped) {  // a signal's cancel is no failure
          log_line(tag + e.what());
          t_.add_failed();
        }
        accepted.finish(true);
        done();
        return;
      }
      side& left = listen_index_ == 0 ? static_cast<side&>(accepted) : *other;
      side& right = listen_index_ == 0 ? *other : static_cast<side&>(accepted);
      const auto r = relay_pair(left, right, o_, tag, t_);
      if (r.end == relay_end::failed && !o_.verbose) log_line(tag + r.error);
    } catch (const std::exception& e) {
      log_line(tag + e.what());
    }
    done();
  }
  void done() {
    std::lock_guard<std::mutex> g(m_);
    --active_;
    cv_.notify_all();
  }

  vmsock::any_listener& l_;
  int listen_index_;
  const address& other_;
  const cat_options& o_;
  totals& t_;
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t active_ = 0;
};

}  // namespace

void serve_each(vmsock::any_listener& l, int listen_index, const address& other,
                const cat_options& o, totals& t) {
  server(l, listen_index, other, o, t).run();
}

}  // namespace cat
}  // namespace vmsock_cli
