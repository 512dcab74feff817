// connection_group: an agent's SIGTERM path ends every accepted connection at
// once.  Over real loopback sockets (TCP everywhere, Unix beside it on POSIX):
// blocked receives return operation_canceled, sockets that join late are
// cancelled as they join, members leave when closed, released, destroyed or
// moved onto, and the group never reaches a destroyed socket (run under ASan).
// Every wait is bounded: a hang fails the test, it never stalls the run.
#include <vmsock/host/connection_group.hpp>
#include <vmsock/socket/aliases.hpp>

#include "descriptors.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace vmsock;
using clock_type = std::chrono::steady_clock;

// Counts finished threads; wait() gives up after `bound` and ends the program
// with a message, so that a hang is a failure ctest reports at once.
class finish_line {
 public:
  void arrive() {
    std::lock_guard<std::mutex> g(m_);
    ++done_;
    cv_.notify_all();
  }
  void wait(std::size_t n, std::chrono::seconds bound = 20s) {
    std::unique_lock<std::mutex> l(m_);
    if (!cv_.wait_for(l, bound, [&] { return done_ >= n; })) {
      std::fprintf(stderr, "FAILED: %zu of %zu blocked calls returned within %lld s\n", done_, n,
                   static_cast<long long>(bound.count()));
      std::fflush(stderr);
      std::_Exit(3);
    }
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t done_ = 0;
};

// One accepted connection and the client end that keeps it open.
template <class E> struct accepted_pair {
  stream_socket<E> client;
  stream_socket<E> server;
};

template <class E> accepted_pair<E> accept_one(listener<E>& l, connection_group* group) {
  accepted_pair<E> p;
  p.client = stream_socket<E>::connect(l.local_endpoint(), 5s);
  p.server = group != nullptr ? group->accept(l, deadline(5s)) : l.accept(deadline(5s));
  return p;
}

// A thread blocked in receive on `s`, until it is cancelled.
struct blocked_receive {
  std::error_code ec;
  std::size_t n = 1;
  clock_type::time_point returned{};
};

template <class Socket>
std::thread receive_until_cancelled(Socket& s, blocked_receive& r,
                                    std::atomic<std::size_t>& started, finish_line& finished) {
  return std::thread([&s, &r, &started, &finished] {
    char one = 0;
    ++started;
    r.n = s.receive(&one, 1, r.ec);
    r.returned = clock_type::now();
    finished.arrive();
  });
}

void wait_started(const std::atomic<std::size_t>& started, std::size_t n) {
  const auto until = clock_type::now() + 20s;
  while (started.load() < n && clock_type::now() < until) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(started.load(), n);
  // Gives each thread time to enter its receive; the outcome is the same if
  // one has not (a receive after cancel() fails the same way).
  std::this_thread::sleep_for(100ms);
}

const std::error_code canceled_code = std::make_error_code(std::errc::operation_canceled);

TEST(ConnectionGroup, CancelAllEndsEveryBlockedReceive) {
  constexpr std::size_t tcp_count = 100;
  constexpr std::size_t unix_count = VMSOCK_POSIX ? 20 : 0;  // Wine has no AF_UNIX
  const std::size_t descriptors_before = vmsock_test::open_descriptors();
  {
    connection_group group;
    auto tcp = tcp4_listener::listen(inet4_endpoint::loopback(0), 256);
    std::vector<accepted_pair<inet4_endpoint>> tcp_pairs;
    std::vector<accepted_pair<unix_endpoint>> unix_pairs;
    tcp_pairs.reserve(tcp_count);
    unix_pairs.reserve(unix_count);
    // Moved into the vector after joining: a moved socket stays a member.
    for (std::size_t i = 0; i < tcp_count; ++i) tcp_pairs.push_back(accept_one(tcp, &group));
#if VMSOCK_POSIX
    vmsock_test::temp_socket_path path;
    auto ux = unix_listener::listen(unix_endpoint::path(path.path));
    for (std::size_t i = 0; i < unix_count; ++i) unix_pairs.push_back(accept_one(ux, &group));
#endif
    ASSERT_EQ(group.size(), tcp_count + unix_count);

    std::vector<blocked_receive> results(tcp_count + unix_count);
    std::vector<std::thread> threads;
    std::atomic<std::size_t> started{0};
    finish_line finished;
    for (std::size_t i = 0; i < tcp_count; ++i)
      threads.push_back(
          receive_until_cancelled(tcp_pairs[i].server, results[i], started, finished));
    for (std::size_t i = 0; i < unix_count; ++i)
      threads.push_back(
          receive_until_cancelled(unix_pairs[i].server, results[tcp_count + i], started, finished));
    wait_started(started, tcp_count + unix_count);

    clock_type::time_point cancelled_at;
    std::thread shutdown([&] {
      cancelled_at = clock_type::now();
      group.cancel_all();
    });
    shutdown.join();
    finished.wait(results.size());
    for (auto& t : threads) t.join();

    auto last = cancelled_at;
    for (std::size_t i = 0; i < results.size(); ++i) {
      EXPECT_EQ(results[i].ec, canceled_code)
          << "connection " << i << ": " << results[i].ec.message();
      EXPECT_EQ(results[i].n, 0u);
      last = std::max(last, results[i].returned);
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(last - cancelled_at);
    std::printf("cancel_all: %zu connections (%zu TCP, %zu Unix) all returned in %lld us\n",
                tcp_count + unix_count, tcp_count, unix_count, static_cast<long long>(us.count()));
    RecordProperty("cancel_all_connections", std::to_string(tcp_count + unix_count));
    RecordProperty("cancel_all_latency_us", std::to_string(us.count()));

    // Later calls fail the same way; the group stays cancelled.
    char one = 0;
    std::error_code ec;
    EXPECT_EQ(tcp_pairs.front().server.receive(&one, 1, ec), 0u);
    EXPECT_EQ(ec, canceled_code);
    EXPECT_TRUE(group.is_cancelled());
    tcp.cancel();
  }
  // Every socket closed, the group gone: no descriptor left behind.
  EXPECT_EQ(vmsock_test::open_descriptors(), descriptors_before);
}

TEST(ConnectionGroup, DestroyedMemberIsNeverTouched) {
  connection_group group;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  {
    auto gone = accept_one(l, &group);
    ASSERT_EQ(group.size(), 1u);
  }
  EXPECT_EQ(group.size(), 0u);
  // Likely on the descriptor the destroyed member had: it is not a member, so
  // cancel_all() leaves it alone.
  auto other = accept_one(l, nullptr);
  group.cancel_all();
  EXPECT_FALSE(other.server.is_cancelled());
  other.client.send_all(std::string("x"));
  char one = 0;
  EXPECT_EQ(other.server.receive(&one, 1, 5s), 1u);
  EXPECT_EQ(one, 'x');
}

TEST(ConnectionGroup, GroupDestroyedBeforeItsMembers) {
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto group = std::make_unique<connection_group>();
  auto p = accept_one(l, group.get());
  group.reset();
  p.client.send_all(std::string("y"));
  char one = 0;
  EXPECT_EQ(p.server.receive(&one, 1, 5s), 1u);
  EXPECT_FALSE(p.server.is_cancelled());
  p.server.close();  // leaves a group that no longer exists
}

TEST(ConnectionGroup, JoinAfterCancelAllIsCancelledAtOnce) {
  connection_group group;
  group.cancel_all();
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto p = accept_one(l, &group);
  EXPECT_TRUE(p.server.is_cancelled());
  EXPECT_EQ(group.size(), 1u);
  char one = 0;
  std::error_code ec;
  const auto start = clock_type::now();
  EXPECT_EQ(p.server.receive(&one, 1, 10s, ec), 0u);  // bounded; returns at once
  EXPECT_EQ(ec, canceled_code);
  EXPECT_LT(clock_type::now() - start, 9s);  // not the deadline that ended it
  // A closed socket joins nothing.
  tcp4_socket closed;
  group.join(closed);
  EXPECT_EQ(group.size(), 1u);
}

TEST(ConnectionGroup, AnyStreamSocketMembers) {
  connection_group group;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  // A connected any_stream_socket joins as it is; a typed one that joined
  // keeps its membership when it becomes an any_stream_socket.  The two
  // members are ends of different connections: a member's peer would see the
  // other's cancel as the end of the stream, which may come first.
  auto client = group.join(any_stream_socket::connect(any_endpoint(l.local_endpoint()), 5s));
  auto client_peer = l.accept(deadline(5s));
  auto server_peer = tcp4_socket::connect(l.local_endpoint(), 5s);
  auto server = l.accept(deadline(5s));
  group.join(server);
  any_stream_socket any_server(std::move(server), any_endpoint(inet4_endpoint::loopback(0)));
  EXPECT_EQ(group.size(), 2u);
  EXPECT_TRUE(group.contains(client));
  EXPECT_TRUE(group.contains(any_server));

  std::vector<blocked_receive> results(2);
  std::atomic<std::size_t> started{0};
  finish_line finished;
  std::thread a = receive_until_cancelled(client, results[0], started, finished);
  std::thread b = receive_until_cancelled(any_server, results[1], started, finished);
  wait_started(started, 2u);
  group.cancel_all();
  finished.wait(2);
  a.join();
  b.join();
  EXPECT_EQ(results[0].ec, canceled_code);
  EXPECT_EQ(results[1].ec, canceled_code);
  client.close();
  EXPECT_EQ(group.size(), 1u);
}

TEST(ConnectionGroup, MovedSocketStaysInTheGroup) {
  connection_group group;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  auto p = accept_one(l, &group);
  tcp4_socket moved(std::move(p.server));
  EXPECT_EQ(group.size(), 1u);
  EXPECT_TRUE(group.contains(moved));
  EXPECT_FALSE(group.contains(p.server));  // moved-from: no longer a member

  // Moved onto: the socket that was there (a member) is closed and leaves;
  // the one moved in brings its own membership (none here).
  auto q = accept_one(l, nullptr);
  moved = std::move(q.server);
  EXPECT_EQ(group.size(), 0u);
  EXPECT_FALSE(group.contains(moved));

  group.join(moved);
  group.cancel_all();
  EXPECT_TRUE(moved.is_cancelled());
  EXPECT_FALSE(p.server.is_open());
}

TEST(ConnectionGroup, SizeFollowsMembersAsTheyLeave) {
  connection_group group;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0));
  std::vector<accepted_pair<inet4_endpoint>> pairs;
  for (int i = 0; i < 6; ++i) pairs.push_back(accept_one(l, &group));
  EXPECT_EQ(group.size(), 6u);
  pairs[0].server.close();
  EXPECT_EQ(group.size(), 5u);
  pairs[1].server = tcp4_socket();  // destroyed by assignment
  EXPECT_EQ(group.size(), 4u);
  vmsock_test::close_handle(pairs[2].server.release());  // handed out: the group lets go
  EXPECT_EQ(group.size(), 3u);
  group.leave(pairs[3].server);
  EXPECT_EQ(group.size(), 2u);
  EXPECT_FALSE(group.contains(pairs[3].server));

  connection_group other;
  other.join(pairs[4].server);  // one group at a time
  EXPECT_EQ(group.size(), 1u);
  EXPECT_EQ(other.size(), 1u);
  other.leave(pairs[5].server);  // not its member: nothing happens
  EXPECT_EQ(group.size(), 1u);

  group.cancel_all();
  EXPECT_TRUE(pairs[5].server.is_cancelled());
  EXPECT_FALSE(pairs[3].server.is_cancelled());
  EXPECT_FALSE(pairs[4].server.is_cancelled());
  pairs.clear();
  EXPECT_EQ(group.size(), 0u);
  EXPECT_EQ(other.size(), 0u);
}

// Joins, closes and cancel_all() from several threads at once: every socket
// joined after the cancel is cancelled, none is reached after it is gone.
TEST(ConnectionGroup, JoinCloseAndCancelAllRace) {
  connection_group group;
  auto l = tcp4_listener::listen(inet4_endpoint::loopback(0), 128);
  constexpr std::size_t per_thread = 20;
  std::vector<std::vector<accepted_pair<inet4_endpoint>>> sets(3);
  for (auto& set : sets)
    for (std::size_t i = 0; i < per_thread; ++i) set.push_back(accept_one(l, nullptr));

  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (auto& set : sets) {
    workers.emplace_back([&group, &set, &go] {
      while (!go.load()) std::this_thread::yield();
      for (std::size_t i = 0; i < set.size(); ++i) {
        group.join(set[i].server);
        if (i % 2 == 0) set[i].server.close();
      }
    });
  }
  go = true;
  group.cancel_all();
  for (auto& t : workers) t.join();
  for (auto& set : sets) {
    for (auto& p : set) {
      if (p.server.is_open()) {
        EXPECT_TRUE(p.server.is_cancelled());
      }
    }
  }
  EXPECT_EQ(group.size(), sets.size() * (per_thread / 2));
}

}  // namespace
