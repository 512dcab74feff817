// One test source, two asio flavours: each test .cpp under tests/asio is
// compiled twice, once with VMSOCK_TEST_BOOST_ASIO=0 (vmsock/asio.hpp,
// standalone asio) and once with 1 (vmsock/boost_asio.hpp, Boost.Asio), and
// both objects are linked into one program (which also shows that the two
// flavours can live in one program: asio and Boost.Asio 1.74 cannot share a
// translation unit, asio issue #874).
//
//   flavour::      vmsock::asio or vmsock::boost_asio
//   lib::          ::asio or boost::asio
//   vsock_stream, vsock_seqpacket, hv_stream   the flavour's protocols
//   lib_error_code, lib_system_error, to_std(ec)
//   ASIO_SUITE(X)  AsioX or BoostAsioX, the test suite names
//   temp_dir       a fresh directory, removed with what is in it
#pragma once

#if VMSOCK_TEST_BOOST_ASIO
#  include <vmsock/interop/boost_asio.hpp>

#  include <boost/system/system_error.hpp>

namespace vmsock_test {
namespace flavour = vmsock::boost_asio;
namespace lib = boost::asio;
using lib_error_code = boost::system::error_code;
using lib_system_error = boost::system::system_error;
inline std::error_code to_std(const lib_error_code& ec) { return vmsock::boost_asio::to_std(ec); }
inline const char* flavour_name() { return "Boost.Asio"; }
}  // namespace vmsock_test
#  define ASIO_SUITE(name) BoostAsio##name
#else
#  include <vmsock/interop/asio.hpp>

namespace vmsock_test {
namespace flavour = vmsock::asio;
namespace lib = ::asio;
using lib_error_code = std::error_code;
using lib_system_error = std::system_error;
inline std::error_code to_std(const lib_error_code& ec) { return vmsock::asio::to_std(ec); }
inline const char* flavour_name() { return "asio"; }
}  // namespace vmsock_test
#  define ASIO_SUITE(name) Asio##name
#endif

#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>

namespace vmsock_test {
// A fresh directory, removed with what is in it.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    static int counter = 0;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path = std::filesystem::temp_directory_path() /
           ("vmsock-asio-" + std::to_string(stamp) + "-" + std::to_string(++counter));
    std::filesystem::create_directories(path);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const char* name) const { return (path / name).string(); }
};

using vsock_stream = flavour::vsock_stream;
using vsock_seqpacket = flavour::vsock_seqpacket;
using hv_stream = flavour::hv_stream;

// The code a throwing call threw as asio's system_error (empty when it did not).
template <class F> lib_error_code lib_error_of(F&& f) {
  try {
    f();
  } catch (const lib_system_error& e) {
    return e.code();
  }
  return {};
}
}  // namespace vmsock_test
