// A second process for test_hv_registry.cpp's concurrency case:
//
//   vmsock_hv_registry_helper.exe EVENT BASE_GUID COUNT TAG SHARED_GUID
//
// Waits (at most 30 s) for the named event EVENT, so that two helpers start
// together, then registers COUNT services, BASE_GUID with data1 + 0 .. COUNT-1,
// named "TAG #i", and after each one SHARED_GUID named TAG, which both helpers
// write.  Prints "ran START END" (system time, 100 ns units) on stdout.  Exit
// status 0 when every call succeeded and each service it wrote reads back as
// registered; 1 with the error on stderr otherwise; 2 on usage.
#include <vmsock/host/hv_registry.hpp>

#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s EVENT BASE_GUID COUNT TAG SHARED_GUID\n", argv[0]);
    return 2;
  }
  const auto base = vmsock::guid::try_parse(argv[2]);
  const auto shared = vmsock::guid::try_parse(argv[5]);
  const long count = std::strtol(argv[3], nullptr, 10);
  const std::string tag = argv[4];
  if (!base || !shared || count <= 0) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  const HANDLE go = ::OpenEventA(SYNCHRONIZE, FALSE, argv[1]);
  if (go == nullptr || ::WaitForSingleObject(go, 30000) != WAIT_OBJECT_0) {
    std::fprintf(stderr, "%s: no start signal (event %s)\n", tag.c_str(), argv[1]);
    return 1;
  }
  ::CloseHandle(go);
  FILETIME started;
  ::GetSystemTimeAsFileTime(&started);

  for (long i = 0; i < count; ++i) {
    vmsock::guid id = *base;
    id.data1 += static_cast<std::uint32_t>(i);
    std::error_code ec;
    vmsock::hv::register_service(id, tag + " #" + std::to_string(i), ec);
    if (!ec) vmsock::hv::register_service(*shared, tag, ec);
    bool found = false;
    if (!ec) found = vmsock::hv::is_service_registered(id, ec);
    if (ec || !found) {
      std::fprintf(stderr, "%s: service %s: %s\n", tag.c_str(), id.to_string().c_str(),
                   ec ? ec.message().c_str() : "not registered after register_service");
      return 1;
    }
  }
  FILETIME ended;
  ::GetSystemTimeAsFileTime(&ended);
  const auto ticks = [](const FILETIME& t) {
    return static_cast<unsigned long long>(t.dwHighDateTime) << 32 | t.dwLowDateTime;
  };
  // When it ran, in 100 ns units: the test checks that the two runs overlap.
  std::printf("ran %llu %llu\n", ticks(started), ticks(ended));
  return 0;
}
