// POSIX sides of the relay (stdin/stdout, a child through two pipes) and the
// signal handling of `vmsock cat`.
#include "relay.hpp"

#include <vmsock/config.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace vmsock_cli {

namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

int poll_timeout(const vmsock::deadline& when) noexcept {
  const vmsock::timeout left = when.remaining();
  if (left == vmsock::no_timeout) return -1;
  return left.count() > 0x7fffffff ? 0x7fffffff : static_cast<int>(left.count());
}

// Two descriptors (read from, write to) and a wake-up pipe for cancel().
class fd_side : public side {
 public:
  fd_side(int rfd, int wfd, bool owns, side_kind kind)
      : rfd_(rfd), wfd_(wfd), owns_(owns), kind_(kind) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::system_error(last_error(), "pipe");
  }
  ~fd_side() override {
    close_fds();
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  std::size_t read(void* p, std::size_t n, const vmsock::deadline& when,
                   std::error_code& ec) noexcept override {
    ec.clear();
    for (;;) {
      if (!wait_for(rfd_, POLLIN, when, ec)) return 0;
      const ssize_t r = ::read(rfd_, p, n);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno == EINTR || errno == EAGAIN) continue;
      ec = last_error();
      return 0;
    }
  }
  std::size_t write(const void* p, std::size_t n, const vmsock::deadline& when,
                    std::error_code& ec) noexcept override {
    ec.clear();
    std::size_t done = 0;
    while (done < n) {
      if (!wait_for(wfd_, POLLOUT, when, ec)) return done;
      const ssize_t w = ::write(wfd_, static_cast<const char*>(p) + done, n - done);
      if (w >= 0) {
        done += static_cast<std::size_t>(w);
        continue;
      }
      if (errno == EINTR || errno == EAGAIN) continue;
      ec = last_error();
      return done;
    }
    return done;
  }
  void close_write(std::error_code& ec) noexcept override {
    ec.clear();
    if (wfd_ < 0) return;
    if (owns_) {
      ::close(wfd_);
    } else {
      // stdout: its reader sees the end, and descriptor 1 stays taken (by
      // /dev/null), so that nothing else opened later lands on it.
      const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) {
        ::dup2(null, wfd_);
        ::close(null);
      }
    }
    wfd_ = -1;
  }
  void cancel() noexcept override {
    cancelled_.store(true);
    const char c = 'x';
    (void)!::write(wake_[1], &c, 1);
  }
  side_kind kind() const noexcept override { return kind_; }

 protected:
  void close_fds() noexcept {
    if (owns_) {
      if (rfd_ >= 0) ::close(rfd_);
      if (wfd_ >= 0) ::close(wfd_);
    }
    rfd_ = wfd_ = -1;
  }

 private:
  // Waits until `fd` is ready for `events`; false with ec set otherwise
  // (timed_out, operation_canceled, or the poll's error).
  bool wait_for(int fd, short events, const vmsock::deadline& when, std::error_code& ec) noexcept {
    if (fd < 0) {
      ec = std::make_error_code(std::errc::bad_file_descriptor);
      return false;
    }
    for (;;) {
      if (cancelled_.load()) {
        ec = std::make_error_code(std::errc::operation_canceled);
        return false;
      }
      pollfd pf[2] = {{fd, events, 0}, {wake_[0], POLLIN, 0}};
      const int r = ::poll(pf, 2, poll_timeout(when));
      if (r < 0) {
        if (errno == EINTR) continue;
        ec = last_error();
        return false;
      }
      if (pf[1].revents != 0) continue;  // cancelled: seen at the top
      if (r == 0) {
        if (!when.expired()) continue;  // rounding: look again
        ec = std::make_error_code(std::errc::timed_out);
        return false;
      }
      return true;  // ready, or an error or hang-up the next call reports
    }
  }

  int rfd_, wfd_;
  bool owns_;
  side_kind kind_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> cancelled_{false};
};

class exec_side final : public fd_side {
 public:
  exec_side(int rfd, int wfd, pid_t pid, const std::string& command)
      : fd_side(rfd, wfd, true, side_kind::exec), pid_(pid) {
    set_name("exec:" + command);
  }
  ~exec_side() override { finish(true); }

  void finish(bool stopped) noexcept override {
    close_fds();
    if (pid_ <= 0) return;
    if (stopped) ::kill(pid_, SIGTERM);
    // The child saw the end of its input; it is given 5 s to end (2 s when
    // the relay was cut short), then SIGTERM, then SIGKILL.
    const auto start = std::chrono::steady_clock::now();
    int signal_sent = stopped ? SIGTERM : 0;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        if (r == pid_) status_ = status;
        break;
      }
      const auto waited = std::chrono::steady_clock::now() - start;
      if (signal_sent == 0 && waited > std::chrono::seconds(5)) {
        ::kill(pid_, SIGTERM);
        signal_sent = SIGTERM;
      } else if (signal_sent == SIGTERM && waited > std::chrono::seconds(7)) {
        ::kill(pid_, SIGKILL);
        signal_sent = SIGKILL;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }
  std::string finish_note() const override {
    if (status_ < 0) return {};
    if (WIFEXITED(status_)) return "exit status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "killed by signal " + std::to_string(WTERMSIG(status_));
    return {};
  }

 private:
  pid_t pid_;
  int status_ = -1;
};

void (*stop_callback)(int) = nullptr;

}  // namespace

std::unique_ptr<side> make_stdio_side() {
  auto s = std::make_unique<fd_side>(STDIN_FILENO, STDOUT_FILENO, false, side_kind::stdio);
  s->set_name("stdio");
  return s;
}

std::unique_ptr<side> make_exec_side(const std::string& command) {
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) throw std::system_error(last_error(), "exec: pipe");
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    const auto ec = last_error();
    ::close(to_child[0]);
    ::close(to_child[1]);
    throw std::system_error(ec, "exec: pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  // dup2 clears close-on-exec on the copies; the originals close at exec.
  posix_spawn_file_actions_adddup2(&fa, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], STDOUT_FILENO);
  // The child gets the signal handling a shell would give it: nothing
  // blocked, SIGPIPE and the stop signals at their defaults.
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string shell = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {shell.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  const int e = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (e != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    throw std::system_error(std::error_code(e, std::system_category()), "exec " + command);
  }
  // Our ends never block: a full pipe waits in poll(), where cancel() reaches it.
  for (const int fd : {to_child[1], from_child[0]})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::make_unique<exec_side>(from_child[0], to_child[1], pid, command);
}

void prepare_process(void (*on_stop)(int)) {
  // A write to a pipe whose reader is gone is EPIPE, reported as an error.
  std::signal(SIGPIPE, SIG_IGN);
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  stop_callback = on_stop;
  sigset_t set;
  sigemptyset(&set);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  // Blocked here, before any other thread exists, so that every thread
  // inherits the mask and only the waiting thread below takes them.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int count = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (++count > 1) std::_Exit(128 + sig);  // a second signal: at once
      if (stop_callback) stop_callback(sig);
    }
  }).detach();
}

}  // namespace vmsock_cli
