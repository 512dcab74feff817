// Windows sides of the relay (stdin/stdout; a child through a pair of named
// pipes, overlapped on our side so that a wait has a deadline and cancel()
// ends it) and Ctrl+C handling for `vmsock cat`.
#include "relay.hpp"

#include <vmsock/config.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>

#include <windows.h>

namespace vmsock_cli {

namespace {

std::error_code win_error(DWORD e = GetLastError()) noexcept {
  return {static_cast<int>(e), std::system_category()};
}

DWORD wait_ms(const vmsock::deadline& when) noexcept {
  const vmsock::timeout left = when.remaining();
  if (left == vmsock::no_timeout) return INFINITE;
  return left.count() >= static_cast<long long>(INFINITE) ? INFINITE - 1
                                                          : static_cast<DWORD>(left.count());
}

bool broken(DWORD e) noexcept {
  return e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF || e == ERROR_NO_DATA;
}

// stdin and stdout as the process got them (console, pipe or file): blocking
// handles, which cannot wait with a deadline (the relay watches the idle time
// itself) and which cancel() reaches with CancelSynchronousIo.
class stdio_side final : public side {
 public:
  stdio_side() : in_(GetStdHandle(STD_INPUT_HANDLE)), out_(GetStdHandle(STD_OUTPUT_HANDLE)) {
    set_name("stdio");
  }
  ~stdio_side() override {
    for (auto* t : {&reader_, &writer_}) {
      HANDLE h = t->exchange(nullptr);
      if (h) CloseHandle(h);
    }
  }

  std::size_t read(void* p, std::size_t n, const vmsock::deadline&,
                   std::error_code& ec) noexcept override {
    ec.clear();
    if (!enter(reader_, ec)) return 0;
    DWORD got = 0;
    const DWORD want = n > 0x40000000 ? 0x40000000 : static_cast<DWORD>(n);
    if (!ReadFile(in_, p, want, &got, nullptr)) {
      const DWORD e = GetLastError();
      if (cancelled_.load() || e == ERROR_OPERATION_ABORTED) {
        ec = std::make_error_code(std::errc::operation_canceled);
      } else if (!broken(e)) {
        ec = win_error(e);
      }
      return 0;
    }
    return got;
  }
  std::size_t write(const void* p, std::size_t n, const vmsock::deadline&,
                    std::error_code& ec) noexcept override {
    ec.clear();
    if (!enter(writer_, ec)) return 0;
    std::size_t done = 0;
    while (done < n) {
      DWORD put = 0;
      const std::size_t rest = n - done;
      const DWORD want = rest > 0x40000000 ? 0x40000000 : static_cast<DWORD>(rest);
      if (!WriteFile(out_, static_cast<const char*>(p) + done, want, &put, nullptr)) {
        const DWORD e = GetLastError();
        ec = cancelled_.load() || e == ERROR_OPERATION_ABORTED
                 ? std::make_error_code(std::errc::operation_canceled)
                 : win_error(e);
        return done;
      }
      done += put;
    }
    return done;
  }
  void close_write(std::error_code& ec) noexcept override {
    ec.clear();
    if (out_ != nullptr && out_ != INVALID_HANDLE_VALUE) CloseHandle(out_);
    out_ = INVALID_HANDLE_VALUE;
    SetStdHandle(STD_OUTPUT_HANDLE, INVALID_HANDLE_VALUE);
  }
  void cancel() noexcept override {
    cancelled_.store(true);
    for (auto* t : {&reader_, &writer_}) {
      HANDLE h = t->load();
      if (h) CancelSynchronousIo(h);
    }
  }
  side_kind kind() const noexcept override { return side_kind::stdio; }
  bool honours_deadlines() const noexcept override { return false; }

 private:
  // Remembers the calling thread (for CancelSynchronousIo) and refuses once cancelled.
  bool enter(std::atomic<HANDLE>& slot, std::error_code& ec) noexcept {
    if (slot.load() == nullptr) {
      HANDLE self = nullptr;
      if (DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &self, 0,
                          FALSE, DUPLICATE_SAME_ACCESS))
        slot.store(self);
    }
    if (cancelled_.load()) {
      ec = std::make_error_code(std::errc::operation_canceled);
      return false;
    }
    return true;
  }

  HANDLE in_, out_;
  std::atomic<HANDLE> reader_{nullptr}, writer_{nullptr};
  std::atomic<bool> cancelled_{false};
};

// One overlapped operation on our end of a pipe, waited for beside the
// cancel event and the deadline.
std::size_t overlapped_io(HANDLE h, bool reading, void* p, DWORD n, HANDLE cancel_event,
                          const vmsock::deadline& when, std::error_code& ec) noexcept {
  OVERLAPPED ov{};
  ov.hEvent = CreateEventA(nullptr, TRUE, FALSE, nullptr);
  if (!ov.hEvent) {
    ec = win_error();
    return 0;
  }
  DWORD got = 0;
  BOOL ok = reading ? ReadFile(h, p, n, nullptr, &ov) : WriteFile(h, p, n, nullptr, &ov);
  DWORD e = ok ? ERROR_SUCCESS : GetLastError();
  if (!ok && e == ERROR_IO_PENDING) {
    HANDLE waits[2] = {ov.hEvent, cancel_event};
    const DWORD r = WaitForMultipleObjects(2, waits, FALSE, wait_ms(when));
    if (r != WAIT_OBJECT_0) CancelIoEx(h, &ov);
    ok = GetOverlappedResult(h, &ov, &got, TRUE);
    e = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && e == ERROR_OPERATION_ABORTED)
      e = r == WAIT_OBJECT_0 + 1 ? ERROR_CANCELLED : WAIT_TIMEOUT;
  } else if (ok) {
    GetOverlappedResult(h, &ov, &got, FALSE);
  }
  CloseHandle(ov.hEvent);
  if (ok || got != 0) {
    ec.clear();
    return got;
  }
  if (e == ERROR_CANCELLED)
    ec = std::make_error_code(std::errc::operation_canceled);
  else if (e == WAIT_TIMEOUT)
    ec = std::make_error_code(std::errc::timed_out);
  else if (reading && broken(e))
    ec.clear();  // the child closed its stdout: the end
  else
    ec = win_error(e);
  return 0;
}

class exec_side final : public side {
 public:
  exec_side(HANDLE from_child, HANDLE to_child, PROCESS_INFORMATION pi, const std::string& command)
      : r_(from_child),
        w_(to_child),
        pi_(pi),
        cancel_(CreateEventA(nullptr, TRUE, FALSE, nullptr)) {
    set_name("exec:" + command);
  }
  ~exec_side() override {
    finish(true);
    if (cancel_) CloseHandle(cancel_);
  }

  std::size_t read(void* p, std::size_t n, const vmsock::deadline& when,
                   std::error_code& ec) noexcept override {
    if (cancelled()) return canceled(ec);
    const DWORD want = n > 0x40000000 ? 0x40000000 : static_cast<DWORD>(n);
    return overlapped_io(r_, true, p, want, cancel_, when, ec);
  }
  std::size_t write(const void* p, std::size_t n, const vmsock::deadline& when,
                    std::error_code& ec) noexcept override {
    std::size_t done = 0;
    ec.clear();
    while (done < n) {
      if (cancelled()) {
        canceled(ec);
        return done;
      }
      const std::size_t rest = n - done;
      const DWORD want = rest > 0x40000000 ? 0x40000000 : static_cast<DWORD>(rest);
      done += overlapped_io(w_, false, const_cast<char*>(static_cast<const char*>(p)) + done, want,
                            cancel_, when, ec);
      if (ec) return done;
    }
    return done;
  }
  void close_write(std::error_code& ec) noexcept override {
    ec.clear();
    if (w_ != INVALID_HANDLE_VALUE) CloseHandle(w_);
    w_ = INVALID_HANDLE_VALUE;
  }
  void cancel() noexcept override {
    if (cancel_) SetEvent(cancel_);
  }
  void finish(bool stopped) noexcept override {
    for (HANDLE* h : {&r_, &w_}) {
      if (*h != INVALID_HANDLE_VALUE) CloseHandle(*h);
      *h = INVALID_HANDLE_VALUE;
    }
    if (!pi_.hProcess) return;
    if (WaitForSingleObject(pi_.hProcess, stopped ? 2000 : 5000) != WAIT_OBJECT_0) {
      TerminateProcess(pi_.hProcess, 1);
      WaitForSingleObject(pi_.hProcess, 2000);
    }
    DWORD code = 0;
    if (GetExitCodeProcess(pi_.hProcess, &code)) status_ = static_cast<long long>(code);
    CloseHandle(pi_.hProcess);
    CloseHandle(pi_.hThread);
    pi_.hProcess = pi_.hThread = nullptr;
  }
  std::string finish_note() const override {
    return status_ < 0 ? std::string() : "exit status " + std::to_string(status_);
  }
  side_kind kind() const noexcept override { return side_kind::exec; }

 private:
  bool cancelled() const noexcept {
    return cancel_ && WaitForSingleObject(cancel_, 0) == WAIT_OBJECT_0;
  }
  static std::size_t canceled(std::error_code& ec) noexcept {
    ec = std::make_error_code(std::errc::operation_canceled);
    return 0;
  }

  HANDLE r_, w_;
  PROCESS_INFORMATION pi_;
  HANDLE cancel_;
  long long status_ = -1;
};

void (*stop_callback)(int) = nullptr;
std::atomic<int> stop_count{0};

BOOL WINAPI on_console_event(DWORD event) {
  const int sig = event == CTRL_C_EVENT ? 2 : 15;
  if (stop_count.fetch_add(1) > 0) std::_Exit(128 + sig);
  if (stop_callback) stop_callback(sig);
  return TRUE;
}

// One end of a named pipe each way: ours overlapped, the child's inheritable.
struct pipe_pair {
  HANDLE ours = INVALID_HANDLE_VALUE;
  HANDLE childs = INVALID_HANDLE_VALUE;
};
pipe_pair make_pipe(bool we_read, unsigned long id) {
  char name[96];
  std::snprintf(name, sizeof name, "\\\\.\\pipe\\vmsock-%lu-%lu-%s", GetCurrentProcessId(), id,
                we_read ? "out" : "in");
  pipe_pair p;
  p.ours =
      CreateNamedPipeA(name,
                       (we_read ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) |
                           FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                       1, 256 * 1024, 256 * 1024, 0, nullptr);
  if (p.ours == INVALID_HANDLE_VALUE) throw std::system_error(win_error(), "exec: CreateNamedPipe");
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  p.childs = CreateFileA(name, we_read ? GENERIC_WRITE : GENERIC_READ, 0, &inherit, OPEN_EXISTING,
                         0, nullptr);
  if (p.childs == INVALID_HANDLE_VALUE) {
    const auto ec = win_error();
    CloseHandle(p.ours);
    throw std::system_error(ec, "exec: open the child's end of a pipe");
  }
  return p;
}

}  // namespace

std::unique_ptr<side> make_stdio_side() { return std::make_unique<stdio_side>(); }

std::unique_ptr<side> make_exec_side(const std::string& command) {
  // Inheritable handles exist only while this lock is held, so that two
  // children started at once do not inherit each other's pipe ends.
  static std::mutex spawn_lock;
  static std::atomic<unsigned long> counter{0};
  std::lock_guard<std::mutex> g(spawn_lock);
  const unsigned long id = ++counter;
  pipe_pair out = make_pipe(true, id);
  pipe_pair in;
  try {
    in = make_pipe(false, id);
  } catch (...) {
    CloseHandle(out.ours);
    CloseHandle(out.childs);
    throw;
  }
  HANDLE err = INVALID_HANDLE_VALUE;
  DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE), GetCurrentProcess(), &err, 0,
                  TRUE, DUPLICATE_SAME_ACCESS);
  STARTUPINFOA si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = in.childs;
  si.hStdOutput = out.childs;
  si.hStdError = err;
  PROCESS_INFORMATION pi{};
  std::string line = command;
  const BOOL ok =
      CreateProcessA(nullptr, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi);
  const auto ec = win_error();
  CloseHandle(in.childs);
  CloseHandle(out.childs);
  if (err != INVALID_HANDLE_VALUE && err != nullptr) CloseHandle(err);
  if (!ok) {
    CloseHandle(in.ours);
    CloseHandle(out.ours);
    throw std::system_error(ec, "exec " + command);
  }
  return std::make_unique<exec_side>(out.ours, in.ours, pi, command);
}

void prepare_process(void (*on_stop)(int)) {
  stop_callback = on_stop;
  SetConsoleCtrlHandler(on_console_event, TRUE);
}

}  // namespace vmsock_cli
