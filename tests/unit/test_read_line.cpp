// detail::read_line, and the hybrid vsock handshake that reads its answer with
// it, against a scripted stream (no sockets): segments arrive one per receive
// that finds nothing queued; a peek copies what is queued and takes nothing.
// Checked: the line is taken up to its '\n' and never past it (what follows
// stays queued), however the line is split; a line that came whole costs a
// peek and one receive; a stream that refuses MSG_PEEK (Winsock's AF_UNIX on
// some Windows builds) is read in the caller's pieces with the same results;
// a close, a deadline and the bound end it as before.
#include <vmsock/detail/read_line.hpp>
#include <vmsock/socket/hybrid_vsock_socket.hpp>

#include "unit_support.hpp"

#include <cstddef>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using vmsock::message_flags;
using vmsock::mutable_buffer;
using vmsock::detail::line_read;

// A stream whose peer sends `segments`, one arriving each time a receive
// finds nothing queued; after the last, the end of the stream, or (`stalls`)
// the deadline's timed_out.  `refuse` is what a peek gets, when set.
struct scripted_stream {
  std::deque<std::string> segments;
  bool stalls = false;
  std::error_code refuse;
  std::string queued;
  struct call {
    std::size_t asked;
    bool peek;
    std::size_t got;
  };
  std::vector<call> calls;

  std::size_t receive(mutable_buffer b, message_flags f, std::error_code& ec) {
    const bool peek = vmsock::has_flag(f, message_flags::peek);
    if (peek && refuse) {
      ec = refuse;
      calls.push_back({b.size, peek, 0});
      return 0;
    }
    if (queued.empty() && !segments.empty()) {
      queued = segments.front();
      segments.pop_front();
    }
    if (queued.empty() && stalls) {
      ec = make_error_code(vmsock::errc::timed_out);
      return 0;
    }
    const std::size_t n = std::min(b.size, queued.size());
    std::memcpy(b.data, queued.data(), n);
    if (!peek) queued.erase(0, n);
    calls.push_back({b.size, peek, n});
    return n;
  }
  // Every byte the reader left: what the application reads next.
  std::string rest() const {
    std::string s = queued;
    for (const auto& seg : segments) s += seg;
    return s;
  }
  std::size_t largest_take() const {
    std::size_t m = 0;
    for (const auto& c : calls)
      if (!c.peek) m = std::max(m, c.got);
    return m;
  }
};

// The handshake's answer through `s`: the error, and `a` as it ended.
std::error_code handshake(scripted_stream& s, vmsock::detail::hybrid_answer& a) {
  std::error_code ec;
  std::string sent;
  vmsock::detail::hybrid_handshake<vmsock::socket_type::stream>(
      5000, a, ec,
      [&](vmsock::const_buffer b, std::error_code&) {
        sent.append(static_cast<const char*>(b.data), b.size);
      },
      [&](mutable_buffer b, message_flags f, std::error_code& e) { return s.receive(b, f, e); });
  EXPECT_EQ(sent, "CONNECT 5000\n");
  return ec;
}

const std::error_code refusals[] = {std::make_error_code(std::errc::operation_not_supported),
                                    std::make_error_code(std::errc::invalid_argument)};

TEST(ReadLine, ALineThatCameWholeIsAPeekAndOneReceive) {
  scripted_stream s;
  s.segments = {"OK 1073741824\nguest bytes", "more"};
  vmsock::detail::hybrid_answer a;
  EXPECT_FALSE(handshake(s, a));
  EXPECT_EQ(a.raw(), "OK 1073741824\n");
  EXPECT_EQ(a.argument(), "1073741824");
  EXPECT_EQ(s.rest(), "guest bytes" + std::string("more"));
  ASSERT_EQ(s.calls.size(), 2u);
  EXPECT_TRUE(s.calls[0].peek);
  EXPECT_EQ(s.calls[0].asked, vmsock::detail::hybrid_answer::max);
  EXPECT_FALSE(s.calls[1].peek);
  EXPECT_EQ(s.calls[1].asked, 14u);
}

// The answer split over several segments, the guest's bytes right after it
// in the last: each segment peeked and taken, nothing past the '\n'.
TEST(ReadLine, ASplitLineIsTakenToItsNewlineAndNoFurther) {
  for (const auto& split :
       std::vector<std::deque<std::string>>{{"O", "K 10", "73741824", "\nguest", "more"},
                                            {"OK", " ", "1073741824\n", "guest"},
                                            {"OK 1073741824", "\n", "guest"},
                                            {"OK 1073741824", "\nguest"}}) {
    std::string all;
    for (const auto& seg : split) all += seg;
    SCOPED_TRACE(all);
    scripted_stream s;
    s.segments = split;
    vmsock::detail::hybrid_answer a;
    EXPECT_FALSE(handshake(s, a));
    EXPECT_EQ(a.raw(), "OK 1073741824\n");
    EXPECT_EQ(s.rest(), all.substr(14));
    for (const auto& c : s.calls) EXPECT_TRUE(c.peek || c.got == c.asked) << c.asked;
  }
}

// Where the peek is refused the answer is read in hybrid_answer's pieces (3,
// then 2 after "OK ", then 1): the same answer, the same bytes left.
TEST(ReadLine, APeekTheStreamRefusesFallsBackToPieces) {
  for (const std::error_code& refusal : refusals) {
    SCOPED_TRACE(refusal.message());
    for (const auto& split : std::vector<std::deque<std::string>>{
             {"OK 1073741824\nguest bytes"}, {"O", "K 10", "73741824", "\nguest", "more"}}) {
      std::string all;
      for (const auto& seg : split) all += seg;
      scripted_stream s;
      s.segments = split;
      s.refuse = refusal;
      vmsock::detail::hybrid_answer a;
      EXPECT_FALSE(handshake(s, a));
      EXPECT_EQ(a.raw(), "OK 1073741824\n");
      EXPECT_EQ(s.rest(), all.substr(14));
      ASSERT_FALSE(s.calls.empty());
      EXPECT_TRUE(s.calls[0].peek) << "one peek, refused";
      for (std::size_t i = 1; i < s.calls.size(); ++i) EXPECT_FALSE(s.calls[i].peek);
      EXPECT_LE(s.largest_take(), 3u);
    }
  }
  // Another error of the peek is the handshake's error.
  scripted_stream s;
  s.segments = {"OK 1\n"};
  s.refuse = std::make_error_code(std::errc::bad_file_descriptor);
  vmsock::detail::hybrid_answer a;
  EXPECT_EQ(handshake(s, a), std::errc::bad_file_descriptor);
}

// Closes, junk, the bound and the deadline end it as they did, whether the
// stream peeks or not.
TEST(ReadLine, TheEndsOfAnAnswerPeekingOrNot) {
  for (const bool peeks : {true, false}) {
    SCOPED_TRACE(peeks ? "peeks" : "refuses the peek");
    const auto run = [&](std::deque<std::string> segments, bool stalls,
                         vmsock::detail::hybrid_answer& a) {
      scripted_stream s;
      s.segments = std::move(segments);
      s.stalls = stalls;
      if (!peeks) s.refuse = refusals[0];
      const std::error_code ec = handshake(s, a);
      return std::make_pair(ec, s.rest());
    };
    vmsock::detail::hybrid_answer a;
    // A silent close: refused.
    EXPECT_EQ(run({}, false, a).first, vmsock::errc::hybrid_vsock_refused);
    EXPECT_FALSE(a.awaited);
    // A close in the middle of the line: a bad answer, what came kept.
    EXPECT_EQ(run({"OK", " 12"}, false, a).first, vmsock::errc::hybrid_vsock_bad_answer);
    EXPECT_EQ(a.raw(), "OK 12");
    EXPECT_FALSE(a.awaited);
    // Junk, its line taken alone.
    auto r = run({"KO 1\nguest"}, false, a);
    EXPECT_EQ(r.first, vmsock::errc::hybrid_vsock_bad_answer);
    EXPECT_EQ(a.raw(), "KO 1\n");
    EXPECT_EQ(r.second, "guest");
    // 64 bytes and no '\n': cut there.
    r = run({std::string(40, 'x'), std::string(30, 'x')}, false, a);
    EXPECT_EQ(r.first, vmsock::errc::hybrid_vsock_bad_answer);
    EXPECT_EQ(a.raw(), std::string(64, 'x'));
    EXPECT_EQ(r.second, std::string(6, 'x'));
    // The deadline mid-line: timed_out, the VMM's answer still awaited.
    EXPECT_EQ(run({"OK 1"}, true, a).first, std::errc::timed_out);
    EXPECT_EQ(a.raw(), "OK 1");
    EXPECT_TRUE(a.awaited);
  }
}

// read_line itself, with the mux's pieces (10 bytes, then 1): a line shorter
// than the first piece, the bound, a line that ends exactly at it.
TEST(ReadLine, TheMuxsPiecesAndBound) {
  for (const bool peeks : {true, false}) {
    SCOPED_TRACE(peeks ? "peeks" : "refuses the peek");
    const auto read = [&](std::deque<std::string> segments, std::size_t max, std::string& line,
                          std::string& rest) {
      scripted_stream s;
      s.segments = std::move(segments);
      if (!peeks) s.refuse = refusals[1];
      char buf[32] = {};
      std::size_t len = 0;
      std::error_code ec;
      const line_read r = vmsock::detail::read_line(
          buf, max, len,
          [&](mutable_buffer b, message_flags f, std::error_code& e) { return s.receive(b, f, e); },
          [&] { return len < 10 ? 10 - len : std::size_t{1}; }, ec);
      EXPECT_FALSE(ec) << ec.message();
      line.assign(buf, len);
      rest = s.rest();
      return r;
    };
    std::string line, rest;
    EXPECT_EQ(read({"CONNECT 52\nfirst bytes"}, 32, line, rest), line_read::complete);
    EXPECT_EQ(line, "CONNECT 52\n");
    EXPECT_EQ(rest, "first bytes");
    // Shorter than the first piece: a peek takes it alone; ten bytes do not.
    EXPECT_EQ(read({"X\nabcdefghij"}, 32, line, rest), line_read::complete);
    EXPECT_EQ(line, peeks ? "X\n" : "X\nabcdefgh");
    EXPECT_EQ(vmsock::detail::line_part(line.data(), line.size()), 2u);
    // The bound, with and without the '\n' as its last byte.
    EXPECT_EQ(read({std::string(31, 'c') + "\nz"}, 32, line, rest), line_read::complete);
    EXPECT_EQ(rest, "z");
    EXPECT_EQ(read({std::string(40, 'c')}, 32, line, rest), line_read::full);
    EXPECT_EQ(line.size(), 32u);
    EXPECT_EQ(rest, std::string(8, 'c'));
    EXPECT_EQ(read({"CONNECT 5"}, 32, line, rest), line_read::closed);
    EXPECT_EQ(line, "CONNECT 5");
  }
}

}  // namespace
