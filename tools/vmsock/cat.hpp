// What `vmsock cat` shares between its files: the parsed addresses and
// options, logging and totals, stopping on a signal, opening an address and
// relaying a pair (cat.cpp), and serving each connection of a listen address
// (cat_fork.cpp, for --fork).
#pragma once

#include "relay.hpp"

#include <vmsock/any/connector.hpp>
#include <vmsock/any/listener.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vmsock_cli {
namespace cat {

struct address {
  enum class kind { connect, listen, stdio, exec } what = kind::connect;
  std::vector<vmsock::any_endpoint> eps;
  std::string command;
  std::string text;
};

struct cat_options {
  bool verbose = false;
  bool stats = false;
  bool fork = false;
  std::size_t max_connections = 0;
  std::optional<vmsock::timeout> connect_timeout;
  bool wait_for_ready = false;
  relay_options relay;
};

void log_line(const std::string& line);

using clock = std::chrono::steady_clock;

struct totals {
  std::mutex m;
  std::uint64_t connections = 0;
  std::uint64_t failed = 0;
  std::uint64_t bytes[2] = {0, 0};
  std::optional<clock::time_point> first_start;
  clock::time_point last_end{};

  void add(const relay_result& r, clock::time_point start, clock::time_point end) {
    std::lock_guard<std::mutex> g(m);
    ++connections;
    if (r.end == relay_end::failed) ++failed;
    bytes[0] += r.bytes[0];
    bytes[1] += r.bytes[1];
    if (!first_start || start < *first_start) first_start = start;
    if (end > last_end) last_end = end;
  }
  void add_failed() {
    std::lock_guard<std::mutex> g(m);
    ++connections;
    ++failed;
  }
  void print() {
    std::lock_guard<std::mutex> g(m);
    const double secs =
        first_start ? std::chrono::duration<double>(last_end - *first_start).count() : 0.0;
    const double total = static_cast<double>(bytes[0] + bytes[1]);
    char line[256];
    std::snprintf(
        line, sizeof line,
        "stats: %llu connection%s (%llu failed), %llu bytes left->right, %llu bytes "
        "right->left, %.3f s, %.1f MB/s",
        static_cast<unsigned long long>(connections), connections == 1 ? "" : "s",
        static_cast<unsigned long long>(failed), static_cast<unsigned long long>(bytes[0]),
        static_cast<unsigned long long>(bytes[1]), secs, secs > 0 ? total / secs / 1e6 : 0.0);
    log_line(line);
  }
};

// ---- stopping (signals) ------------------------------------------------------------

struct stop_registry {
  std::mutex m;
  std::atomic<int> signal{0};
  std::vector<vmsock::any_listener*> listeners;
  std::set<vmsock::any_connector*> connectors;
  std::set<relay*> relays;
  totals* stats = nullptr;  // printed by the fallback below if the run cannot end
  bool print_stats = false;

  void add(relay* r) {
    std::lock_guard<std::mutex> g(m);
    relays.insert(r);
    if (signal.load() != 0) r->stop(relay_end::stopped);
  }
  void remove(relay* r) {
    std::lock_guard<std::mutex> g(m);
    relays.erase(r);
  }
  void add(vmsock::any_connector* c) {
    std::lock_guard<std::mutex> g(m);
    connectors.insert(c);
    if (signal.load() != 0) c->cancel();
  }
  void remove(vmsock::any_connector* c) {
    std::lock_guard<std::mutex> g(m);
    connectors.erase(c);
  }
  bool stopping() const { return signal.load() != 0; }
};
extern stop_registry stops;

// The name an accepted peer is logged by.
std::string name_accepted(vmsock::any_stream_socket& s, const vmsock::any_endpoint& peer);
// Opens a connect, stdio or exec address (a listen address is accepted on).
std::unique_ptr<side> open_address(const address& a, const cat_options& o, const std::string& tag);
// Runs one relay between two open sides, registered for stopping; finishes
// both sides; logs.
relay_result relay_pair(side& left, side& right, const cat_options& o, const std::string& tag,
                        totals& t);

// --fork: accepts on `l` until a signal, each connection relayed to a fresh
// opening of `other` on a thread of its own, at most o.max_connections (256
// by default) at a time.
void serve_each(vmsock::any_listener& l, int listen_index, const address& other,
                const cat_options& o, totals& t);

}  // namespace cat
}  // namespace vmsock_cli
