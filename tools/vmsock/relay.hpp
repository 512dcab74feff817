// The relay of `vmsock cat`: two sides, one direction each way, each in its
// own thread.  A side is anything bytes come from and go to: a connected
// socket, a UDP peer, stdin/stdout, a child process.  A direction reads from
// one side and writes to the other until the end of the stream, then passes
// the end on (the other side's write end is shut down); the relay ends when
// both directions have.  Socket to socket on Linux, the bytes go through a
// pipe with splice(2) and never reach user space; otherwise through one
// buffer per direction, allocated once.
//
// Every wait ends: a side's cancel() wakes its blocked calls (for sockets,
// vmsock's cancel()), and the idle timeout is a deadline on every wait.
#pragma once

#include <vmsock/policy/types.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>

namespace vmsock_cli {

// What a side is, for the choice of how to move its bytes.
enum class side_kind { tcp, unix_stream, vsock, udp, stdio, exec };
const char* to_string(side_kind k) noexcept;

class side {
 public:
  virtual ~side() = default;
  side() = default;
  side(const side&) = delete;
  side& operator=(const side&) = delete;

  // Up to `n` bytes, waiting until `when` (ec: timed_out) or cancel() (ec:
  // operation_canceled).  Zero bytes and no error: the end of the stream.
  virtual std::size_t read(void* p, std::size_t n, const vmsock::deadline& when,
                           std::error_code& ec) noexcept = 0;
  // All `n` bytes unless ec is set; the count written either way.
  virtual std::size_t write(const void* p, std::size_t n, const vmsock::deadline& when,
                            std::error_code& ec) noexcept = 0;
  // Passes the end of the stream on: no more writes.
  virtual void close_write(std::error_code& ec) noexcept = 0;
  // Thread-safe; ends every wait of read and write, now and later.
  virtual void cancel() noexcept = 0;
  // After the relay: reaps a child, closes what is left.  `stopped`: the
  // relay was cut short (a child is asked to end).
  virtual void finish(bool stopped) noexcept { (void)stopped; }
  // What finish() found out, for the log ("exit status 0").
  virtual std::string finish_note() const { return {}; }

  virtual side_kind kind() const noexcept = 0;
  // Whether read/write honour a deadline (Windows console and pipe handles
  // do not; the relay then watches the idle time itself).
  virtual bool honours_deadlines() const noexcept { return true; }
  // A stream whose end is never signalled (UDP): the direction reading it
  // ends when the other has ended and it has been quiet for a moment.
  virtual bool has_end() const noexcept { return true; }
  // The largest write that is kept whole (one datagram), or 0: any size.
  virtual std::size_t max_write() const noexcept { return 0; }
  // For splice(2): the socket's descriptor, or -1.
  virtual int splice_handle() const noexcept { return -1; }
  // Switches a splice_handle() socket between blocking and not; waits for it.
  virtual void set_nonblocking(bool on, std::error_code& ec) noexcept { (void)on, ec.clear(); }
  virtual bool wait(bool readable, const vmsock::deadline& when, std::error_code& ec) noexcept {
    (void)readable, (void)when, ec.clear();
    return true;
  }

  // How the log and error messages name this side: "tcp://127.0.0.1:5000".
  const std::string& name() const noexcept { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

 private:
  std::string name_;
};

enum class splice_mode { automatic, always, never };

struct relay_options {
  std::optional<vmsock::timeout> idle;  // no bytes either way for this long: end
  splice_mode splice = splice_mode::automatic;
  std::size_t buffer = 256 * 1024;  // per direction (the splice pipe's size too)
};

enum class relay_end { normal, idle, stopped, failed };

struct relay_result {
  std::uint64_t bytes[2] = {0, 0};  // [0] left -> right, [1] right -> left
  double seconds = 0;
  relay_end end = relay_end::normal;
  std::string error;                         // the first failure, as the library words it
  const char* method[2] = {"copy", "copy"};  // "splice" or "copy", per direction
};

// Whether a direction from `from` to `to` (both stream sockets) is spliced
// by default (splice_mode::automatic; relay.cpp says why, from the figures in
// benchmarks/RESULTS.md).  splice_mode::always splices every socket pair.
bool splice_by_default(side_kind from, side_kind to) noexcept;

class relay {
 public:
  relay(side& left, side& right, const relay_options& opts) noexcept
      : sides_{&left, &right}, opts_(opts) {}

  // Runs both directions to their end (the right-to-left one in a thread of
  // its own) and returns what happened.
  relay_result run();
  // From any thread: ends the relay (both sides cancelled), as `why` says.
  void stop(relay_end why) noexcept;
  // Bytes so far, for progress and totals while it runs.
  std::uint64_t bytes(int direction) const noexcept {
    return bytes_[direction].load(std::memory_order_relaxed);
  }

 private:
  using clock = std::chrono::steady_clock;

  void pump(int direction) noexcept;
  bool pump_splice(int direction) noexcept;  // false: splice(2) refused, nothing moved
  void pump_copy(int direction) noexcept;
  void direction_ended(int direction) noexcept;
  void fail(std::string message) noexcept;
  vmsock::deadline wait_until(int direction) const noexcept;
  bool idle_now() const noexcept;
  void touch() noexcept;
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  side* sides_[2];
  relay_options opts_;
  bool splice_[2] = {false, false};
  std::atomic<std::uint64_t> bytes_[2] = {{0}, {0}};
  std::atomic<clock::rep> last_activity_{0};
  std::atomic<bool> ended_[2] = {{false}, {false}};
  std::atomic<clock::rep> ended_at_[2] = {{0}, {0}};
  std::atomic<bool> stopping_{false};
  std::atomic<int> end_{static_cast<int>(relay_end::normal)};
  std::mutex m_;
  std::string error_;
};

// ---- the platform's sides (platform_posix.cpp, platform_windows.cpp) ----------

// stdin and stdout, one side.
std::unique_ptr<side> make_stdio_side();
// A child running `command` (POSIX: /bin/sh -c; Windows: the command line as
// CreateProcess takes it), its stdin and stdout through a pipe pair.
std::unique_ptr<side> make_exec_side(const std::string& command);

// Process set-up for cat: broken pipes are errors, not SIGPIPE; as many open
// descriptors as the hard limit allows (--fork holds about ten per
// connection); SIGINT, SIGTERM (and SIGHUP; Windows: Ctrl+C, Ctrl+Break,
// close) call on_stop once in a thread of their own with the signal's number;
// a second one exits at once.
void prepare_process(void (*on_stop)(int signal));

}  // namespace vmsock_cli
