// main() of the GoogleTest programs that run inside vmsock's test guest: they
// refuse to run anywhere else (see guest_support.hpp).
#include "guest_support.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <unistd.h>

namespace vmsock_vm {

int run_guarded_gtest(int argc, char** argv, const char* program, unsigned alarm_seconds) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!in_test_guest()) {
    std::fprintf(stderr,
                 "%s: refusing to run: not inside vmsock's test guest (no vmsock_test_guest=1 "
                 "on the kernel command line). It opens AF_VSOCK sockets, which on this "
                 "machine would reach its hypervisor; run it with tests/vm/run-in-vm.sh or "
                 "ctest -L vm.\n",
                 program);
    return 2;
  }
  // A hang ends this program (SIGALRM's default action) and fails it, instead
  // of running into the boot's timeout with every later program unreported.
  ::alarm(alarm_seconds);
  return RUN_ALL_TESTS();
}

}  // namespace vmsock_vm

#ifndef VMSOCK_VM_PROGRAM
#  define VMSOCK_VM_PROGRAM "vmsock guest test"
#endif
#ifndef VMSOCK_VM_ALARM
#  define VMSOCK_VM_ALARM 200
#endif

int main(int argc, char** argv) {
  return vmsock_vm::run_guarded_gtest(argc, argv, VMSOCK_VM_PROGRAM, VMSOCK_VM_ALARM);
}
