#!/bin/sh
# /init of vmsock's test guest (busybox sh, PID 1), packed by make-initramfs.sh.
#
# Serial ports: ttyS0 kernel console, ttyS1 test output, ttyS2 status lines
# read by run-in-vm.sh:
#   VMSOCK-VM BOOTED <kernel release> <uptime s>
#   VMSOCK-VM RESULT <PASS|FAIL> <exit status> <seconds> <command>
#   VMSOCK-VM DONE tests=<n> failed=<n> first_failure=<exit status or 0>
# The guest then powers off.  Whatever goes wrong, PID 1 must not exit (the
# kernel would panic), so nothing here uses `set -e`.

export PATH=/tests/bin:/bin:/sbin
export HOME=/root
export VMSOCK_TEST_GUEST=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts

out=/dev/ttyS1
status=/dev/ttyS2
# Raw: no \n -> \r\n, no echo of what the host never sends.
stty -F "$out" raw -echo 2>/dev/null
stty -F "$status" raw -echo 2>/dev/null

report() { echo "VMSOCK-VM $*" >"$status"; }
uptime_s() { read -r up _ </proc/uptime; echo "$up"; }
finish() {
  # Close every descriptor on the output port so its last bytes drain before
  # the status line (the host treats the status line as the end).
  exec >/dev/null 2>&1 </dev/null
  report "DONE tests=$tests failed=$failed first_failure=$first_failure"
  poweroff -f
  sleep 60
}

exec >"$out" 2>&1 </dev/null
kver=$(cat /etc/vmsock-kernel)
tests=0
failed=0
first_failure=0

for m in /modules/*.ko; do
  if ! insmod "$m"; then
    echo "[vm] insmod $m failed"
    tests=1; failed=1; first_failure=1
    finish
  fi
done
if [ ! -c /dev/vsock ]; then
  echo "[vm] /dev/vsock is missing after loading the vsock modules"
  tests=1; failed=1; first_failure=1
  finish
fi
report "BOOTED $kver $(uptime_s)"

# A guest booted again in the middle of its list (the nested harness's
# `restart`: a test killed the previous boot on purpose) has
# vmsock_run_from=N on its kernel command line: it resumes at the N-th
# command, so that the commands before it, which the previous boot ran and
# reported, are neither run nor reported twice.
from=1
for word in $(cat /proc/cmdline); do
  case "$word" in vmsock_run_from=*) from=${word#vmsock_run_from=} ;; esac
done

cd /tmp || finish
exec 3</tests/run.list
n=0
while IFS= read -r cmd <&3; do
  [ -n "$cmd" ] || continue
  n=$((n + 1))
  [ "$n" -lt "$from" ] && continue
  tests=$((tests + 1))
  echo "[vm] RUN  $cmd"
  start=$(uptime_s)
  sh -c "$cmd" 3<&-
  rc=$?
  end=$(uptime_s)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  if [ "$rc" = 0 ]; then
    echo "[vm] PASS $cmd (${secs} s)"
    report "RESULT PASS 0 $secs $cmd"
  else
    echo "[vm] FAIL $cmd (exit $rc, ${secs} s)"
    report "RESULT FAIL $rc $secs $cmd"
    failed=$((failed + 1))
    [ "$first_failure" = 0 ] && first_failure=$rc
  fi
done
exec 3<&-

finish
