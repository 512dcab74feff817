// Helpers shared by the socket tests: per-family endpoint factories, unique
// names, checksums, handle checks, and what differs between the platforms
// (process id, temp directory, closing a raw handle, Wine).  The same tests run
// on Linux and on Windows (under Wine in CI).
#pragma once

#include <vmsock/socket/aliases.hpp>

#include <gtest/gtest.h>

#if VMSOCK_WINDOWS
// <windows.h> came with vmsock (detail/native.hpp).
#else
#  include <fcntl.h>
#  include <sys/stat.h>
#  include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace vmsock_test {

// An OS socket handle: int on POSIX, SOCKET on Windows.
using handle = vmsock::default_policy::handle;
inline constexpr handle invalid_handle = vmsock::default_policy::invalid_handle;

inline unsigned long process_id() {
#if VMSOCK_WINDOWS
  return ::GetCurrentProcessId();
#else
  return static_cast<unsigned long>(::getpid());
#endif
}

// The directory for temporary files, without a trailing separator.
inline std::string temp_dir() {
#if VMSOCK_WINDOWS
  char buf[MAX_PATH + 1];
  const DWORD n = ::GetTempPathA(sizeof buf, buf);
  std::string dir = n > 0 && n < sizeof buf ? std::string(buf, n) : std::string(".");
  while (dir.size() > 1 && (dir.back() == '\\' || dir.back() == '/')) dir.pop_back();
  return dir;
#else
  const char* dir = std::getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
#endif
}

inline std::string temp_file(const std::string& name) {
#if VMSOCK_WINDOWS
  return temp_dir() + "\\" + name;
#else
  return temp_dir() + "/" + name;
#endif
}

// Whether `h` is an open handle of this process.
inline bool handle_is_open(handle h) {
#if VMSOCK_WINDOWS
  DWORD flags = 0;
  return ::GetHandleInformation(reinterpret_cast<HANDLE>(h), &flags) != 0;
#else
  return ::fcntl(h, F_GETFD) != -1;
#endif
}

// Closes a raw handle that no vmsock socket owns.
inline void close_handle(handle h) {
#if VMSOCK_WINDOWS
  ::closesocket(h);
#else
  ::close(h);
#endif
}

// Wine's version ("8.0") when this runs under Wine, else nullptr.  ntdll
// exports wine_get_version there and nowhere else.
inline const char* wine_version() {
#if VMSOCK_WINDOWS
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return nullptr;
  using version_fn = const char*(__cdecl*)();
  const FARPROC f = ::GetProcAddress(ntdll, "wine_get_version");
  if (f == nullptr) return nullptr;
  version_fn get = nullptr;
  static_assert(sizeof get == sizeof f);
  std::memcpy(&get, &f, sizeof get);
  return get();
#else
  return nullptr;
#endif
}

// For a test that asserts what Wine answers where Windows itself has the
// feature (AF_UNIX): it runs under Wine only.
#define VMSOCK_TEST_REQUIRE_WINE()                                             \
  do {                                                                         \
    if (vmsock_test::wine_version() == nullptr)                                \
      GTEST_SKIP() << "this test asserts Wine's answer, and this is not Wine"; \
  } while (0)

// A fresh name per call, unique across processes and test runs.
inline std::string unique_name(const char* tag) {
  static std::atomic<unsigned> counter{0};
  return std::string("vmsock-") + tag + "-" + std::to_string(process_id()) + "-" +
         std::to_string(counter++);
}

// A path for a Unix socket in the temp directory; removed on destruction.
struct temp_socket_path {
  std::string path = temp_file(unique_name("sock"));
  temp_socket_path() = default;
  ~temp_socket_path() { std::remove(path.c_str()); }
  temp_socket_path(const temp_socket_path&) = delete;
  temp_socket_path& operator=(const temp_socket_path&) = delete;
};

// Endpoint factories for typed tests: where to listen for each family.
struct tcp4 {
  using endpoint = vmsock::inet4_endpoint;
  static endpoint listen_at() { return endpoint::loopback(0); }
  static constexpr const char* scheme = "tcp://";
};
struct tcp6 {
  using endpoint = vmsock::inet6_endpoint;
  static endpoint listen_at() { return endpoint::loopback(0); }
  static constexpr const char* scheme = "tcp://";
};
struct unix_path {
  using endpoint = vmsock::unix_endpoint;
  // Every path handed out is unlinked when the test program exits.
  struct registry {
    std::vector<std::string> paths;
    ~registry() {
      for (const auto& p : paths) std::remove(p.c_str());
    }
  };
  static endpoint listen_at() {
    static registry made;
    made.paths.push_back(temp_file(unique_name("u")));
    return endpoint::path(made.paths.back());
  }
  static constexpr const char* scheme = "unix://";
};
struct unix_abstract {
  using endpoint = vmsock::unix_endpoint;
  static endpoint listen_at() { return endpoint::abstract(unique_name("a")); }
  static constexpr const char* scheme = "unix://@";
};

// FNV-1a over a byte range, chainable.
inline std::uint64_t fnv1a(const void* data, std::size_t n,
                           std::uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

// Deterministic pseudo-random bytes (xorshift), seeded.
inline std::vector<unsigned char> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<unsigned char> v(n);
  std::uint64_t x = seed | 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = static_cast<unsigned char>(x >> 24);
  }
  return v;
}

// What the exception that `f` throws says; "(no exception)" when it throws none.
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// Runs `f` in a thread; finish() waits for it at most `bound`.  A call that
// does not return by then is a hang: the program says so and exits, so that
// ctest reports the failure instead of waiting for its timeout.
class bounded_call {
 public:
  explicit bounded_call(std::function<void()> f)
      : thread_([this, f = std::move(f)] {
          try {
            f();
          } catch (const std::exception& e) {
            ADD_FAILURE() << "exception in a test thread: " << e.what();
          }
          std::lock_guard<std::mutex> g(m_);
          done_ = true;
          cv_.notify_all();
        }) {}
  ~bounded_call() { finish(); }
  bounded_call(const bounded_call&) = delete;
  bounded_call& operator=(const bounded_call&) = delete;

  void finish(std::chrono::seconds bound = std::chrono::seconds(30)) {
    if (!thread_.joinable()) return;
    std::unique_lock<std::mutex> l(m_);
    if (!cv_.wait_for(l, bound, [&] { return done_; })) {
      std::fprintf(stderr, "FAILED: a blocked call did not return within %lld s: %s\n",
                   static_cast<long long>(bound.count()),
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::fflush(stderr);
      std::_Exit(3);
    }
    l.unlock();
    thread_.join();
  }
  bool done() {
    std::lock_guard<std::mutex> g(m_);
    return done_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

#if VMSOCK_POSIX
inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}
#endif

// The families the typed tests run over.  On Windows only the IP ones: Wine 8
// has no AF_UNIX at all (it answers WSAEAFNOSUPPORT, which test_errors.cpp's
// WineAnswers tests assert), Windows 10's AF_UNIX has no datagrams and no
// abstract names, and its stream sockets need a real Windows host.
#if VMSOCK_WINDOWS
using stream_families = ::testing::Types<tcp4, tcp6>;
using datagram_families = ::testing::Types<tcp4, tcp6>;
#else
using stream_families = ::testing::Types<tcp4, tcp6, unix_path, unix_abstract>;
using datagram_families = ::testing::Types<tcp4, tcp6, unix_path, unix_abstract>;
#endif

// Names for the typed tests' instances (StreamTest/tcp4, ...).
struct family_names {
  template <class T> static std::string GetName(int) {
    if (std::is_same_v<T, tcp4>) return "tcp4";
    if (std::is_same_v<T, tcp6>) return "tcp6";
    if (std::is_same_v<T, unix_path>) return "unix_path";
    return "unix_abstract";
  }
};

}  // namespace vmsock_test
