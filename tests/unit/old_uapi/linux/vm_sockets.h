/* A stand-in for <linux/vm_sockets.h> as Linux UAPI headers before 5.11 have
 * it: sockaddr_vm without svm_flags (its byte is the first of svm_zero) and no
 * VMADDR_FLAG_TO_HOST.  Written for vmsock's test of that case from the
 * structure's documented layout; the constants are the kernel's ABI values. */
#ifndef VMSOCK_TEST_OLD_UAPI_VM_SOCKETS_H
#define VMSOCK_TEST_OLD_UAPI_VM_SOCKETS_H

#include <sys/socket.h>
#include <sys/ioctl.h>

#define SO_VM_SOCKETS_BUFFER_SIZE 0
#define SO_VM_SOCKETS_BUFFER_MIN_SIZE 1
#define SO_VM_SOCKETS_BUFFER_MAX_SIZE 2
#define SO_VM_SOCKETS_PEER_HOST_VM_ID 3
#define SO_VM_SOCKETS_TRUSTED 5
#define SO_VM_SOCKETS_CONNECT_TIMEOUT 6
#define SO_VM_SOCKETS_NONBLOCK_TXRX 7

#define VMADDR_CID_ANY -1U
#define VMADDR_PORT_ANY -1U
#define VMADDR_CID_HYPERVISOR 0
#define VMADDR_CID_RESERVED 1
#define VMADDR_CID_HOST 2

#define VM_SOCKETS_INVALID_VERSION -1U

struct sockaddr_vm {
  sa_family_t svm_family;
  unsigned short svm_reserved1;
  unsigned int svm_port;
  unsigned int svm_cid;
  unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short) -
                         sizeof(unsigned int) - sizeof(unsigned int)];
};

#define IOCTL_VM_SOCKETS_GET_LOCAL_CID _IO(7, 0xb9)

#endif
