#!/bin/sh
# outer.sh — the outer test guest's half of the nested harness (busybox sh;
# packed by run-nested.sh as /tests/bin/nested-outer.sh).  The outer guest is
# the VSOCK host: it has vhost_vsock loaded, boots the inner guest under qemu
# with -device vhost-vsock-pci,guest-cid=3, and runs the host side of each
# test case while the inner guest runs the guest side.
#
#   nested-outer.sh start       boot the inner guest, stream its output, wait
#                               until it reports BOOTED
#   nested-outer.sh case I NAME run case I's host command (line I of
#                               /nested/host-commands) and wait for the guest
#                               side's result (the inner guest's I-th RESULT)
#   nested-outer.sh restart I   (run by case I's host side, which killed the
#                               inner guest on purpose) wait for the old qemu
#                               to be gone, boot the inner guest again with
#                               vmsock_run_from=I (guest-init.sh: it resumes
#                               its list at case I's guest side) and wait
#                               for its BOOTED line
#   nested-outer.sh stop        wait for the inner guest's DONE and its
#                               power-off, stop the streams
#
# Each is one test of the outer guest's guest-init.sh, so each reports its own
# RESULT line to run-in-vm.sh.  Output, all on the outer guest's test port:
#   [host] ...            the host side's programs
#   [guest] ...           the guest side's programs (the inner guest's ttyS1)
#   [inner console] ...   the inner guest's kernel console (its ttyS0)
#   [nested] ...          this script
# (run-nested.sh prints the outer guest's kernel console as [outer console].)
#
# Exit status of a case: the host side's if it failed, else the guest side's;
# 124 when the inner guest never answered (did not boot, did not report the
# guest side's result in time, died); 137 when the host side was killed at
# the case's time limit.  A host side still running 30 s after the guest
# side ended is ended (the guest side failed before they met: its status is
# the case's).  /nested/config sets the limits (seconds):
# BOOT_LIMIT, CASE_LIMIT, RESULT_LIMIT, INNER_LIMIT, INNER_MEMORY, INNER_CPU;
# after the boot, RESULT_LIMIT becomes at least three times the inner boot
# as measured here (a slower machine boots slower and runs slower alike); a
# restart waits that long for the second boot, and host sides get it as
# VMSOCK_NESTED_RESULT_LIMIT.  A host side that kills the inner guest on
# purpose creates $dir/restarting first (`restart` removes it), so that the
# watch below does not take the dead qemu for a guest that died.
set -u
. /nested/config
[ -f /tmp/nested/limits ] && . /tmp/nested/limits

dir=/tmp/nested
cr=$(printf '\r')
say() { echo "[nested] $*"; }
up() { read -r u _ </proc/uptime; echo "$u"; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }
# (A zombie counts as ended: the shell that started qemu may not have reaped it.)
qemu_running() {
  [ -f $dir/qemu.pid ] && [ -r "/proc/$(cat $dir/qemu.pid)/stat" ] &&
    ! grep -q '^[0-9]* (.*) Z ' "/proc/$(cat $dir/qemu.pid)/stat"
}
inner_dead() { # why
  echo "$1" >$dir/inner-dead
  say "$1"
}
console_tail() {
  say "---- inner guest's kernel console, last 30 lines ----"
  tail -n 30 $dir/console.log | sed "s/$cr\$//; s/^/[inner console] /"
  say "----"
}
# Starts the inner guest's qemu (the extra kernel command-line words in $1)
# and waits up to $2 s for one more BOOTED line than $dir/status.log had.
# The serial files are appended to, so that a restarted guest's lines follow
# the first boot's: its RESULT lines then count on from the first boot's, and
# the streams below go on reading the same files.
boot_inner() { # extra-append limit
  before=$(grep -c '^VMSOCK-VM BOOTED ' $dir/status.log)
  t0=$(up)
  # -M pc, one vCPU, TCG: the outer guest has no KVM of its own.  Serial
  # ports as in run-in-vm.sh: console, test output, status lines.
  setsid timeout -s KILL "$INNER_LIMIT" /usr/bin/qemu-system-x86_64 \
    -M pc -accel tcg -cpu "$INNER_CPU" -smp 1 -m "$INNER_MEMORY" -nodefaults -display none -no-reboot \
    -kernel /nested/vmlinuz -initrd /nested/inner.cpio.gz \
    -append "console=ttyS0 panic=-1 rdinit=/init random.trust_cpu=on vmsock_test_guest=1$1" \
    -chardev file,id=ser0,path=$dir/console.log,append=on \
    -chardev file,id=ser1,path=$dir/out.log,append=on \
    -chardev file,id=ser2,path=$dir/status.log,append=on \
    -serial chardev:ser0 -serial chardev:ser1 -serial chardev:ser2 \
    -device vhost-vsock-pci,guest-cid=3 \
    -monitor unix:$dir/monitor.sock,server=on,wait=off \
    </dev/null >$dir/qemu.log 2>&1 &
  echo $! >$dir/qemu.pid
  say "inner guest starting (qemu pid $(cat $dir/qemu.pid), limit ${INNER_LIMIT}s, waiting ${2}s for it to boot)"
  while [ "$(grep -c '^VMSOCK-VM BOOTED ' $dir/status.log)" -le "$before" ]; do
    if ! qemu_running; then
      sed 's/^/[nested] qemu: /' $dir/qemu.log
      inner_dead "the inner guest never answered: its qemu exited before it booted ($(since "$t0") s)"
      console_tail
      return 124
    fi
    if [ "$(awk -v a="$t0" -v b="$(up)" -v l="$2" 'BEGIN { print (b - a > l) }')" = 1 ]; then
      inner_dead "the inner guest never answered: no BOOTED line within ${2}s"
      console_tail
      return 124
    fi
    sleep 0.5
  done
  booted=$(grep '^VMSOCK-VM BOOTED ' $dir/status.log | tail -n 1 | sed -n 's/^VMSOCK-VM BOOTED [^ ]* \([0-9.]*\).*/\1/p' | tr -d '\r')
  boot_s=$(since "$t0")
  return 0
}

# A stream of a file's lines as they come, labelled, in a session of its own
# (so that `kill -- -PID` ends the tail and the sed).
stream() { # file label
  setsid sh -c "exec tail -n +1 -f '$1' | sed 's/$cr\$//; s/^/[$2] /'" &
  echo $! >>$dir/streams
}

case "${1:-}" in
start)
  mkdir -p $dir
  : >$dir/console.log; : >$dir/out.log; : >$dir/status.log; : >$dir/streams
  if [ ! -c /dev/vhost-vsock ]; then
    inner_dead "no /dev/vhost-vsock after loading vhost_vsock"
    exit 1
  fi
  say "local CID of this (outer) guest: host side, vhost_vsock; inner guest: CID 3"
  stream $dir/out.log guest
  stream $dir/console.log "inner console"
  boot_inner "" "$BOOT_LIMIT" || exit $?
  RESULT_LIMIT=$(awk -v r="$RESULT_LIMIT" -v b="$boot_s" 'BEGIN { l = int(3 * b + 0.5); print (l > r ? l : r) }')
  echo "RESULT_LIMIT=$RESULT_LIMIT" >$dir/limits
  say "inner guest booted: $boot_s s after qemu started (its own uptime ${booted} s); a guest side's result is awaited ${RESULT_LIMIT}s after its host side ends"
  exit 0
  ;;

case)
  i=${2:?case number} name=${3:?case name}
  if [ -f $dir/inner-dead ]; then
    say "case $i ($name) not run: $(cat $dir/inner-dead)"
    exit 124
  fi
  cmd=$(sed -n "${i}p" /nested/host-commands)
  say "case $i ($name): host side: $cmd"
  t0=$(up)
  guest_result() { grep '^VMSOCK-VM RESULT ' $dir/status.log | sed -n "${i}p" | tr -d '\r'; }
  rm -f $dir/host-rc.$i $dir/host-pid.$i
  # In a session of its own, so that one kill ends it with its children.
  (
    export VMSOCK_NESTED_SIDE=host VMSOCK_NESTED_CASE="$i" VMSOCK_NESTED_MONITOR=$dir/monitor.sock \
      VMSOCK_NESTED_RESULT_LIMIT="$RESULT_LIMIT"
    cd /tmp || exit 1
    setsid timeout -s KILL "$CASE_LIMIT" sh -c "$cmd" 2>&1 &
    echo $! >$dir/host-pid.$i
    wait $!
    echo $? >$dir/host-rc.$i
  ) | sed 's/^/[host] /' &
  pipe=$!
  # The host side ends by itself, soon after the guest side.  If the inner
  # guest dies before it has reported this case, or the guest side ended long
  # ago (it failed before it reached the host side), the host side would only
  # wait for it: end it.
  ended_by=
  guest_done_at=
  while [ ! -f $dir/host-rc.$i ] && kill -0 $pipe 2>/dev/null; do
    if [ -z "$guest_done_at" ] && [ -n "$(guest_result)" ]; then guest_done_at=$(up); fi
    if [ -n "$guest_done_at" ]; then
      if [ "$(awk -v a="$guest_done_at" -v b="$(up)" 'BEGIN { print (b - a > 30) }')" = 1 ]; then
        ended_by="the guest side ended ($(guest_result | cut -d' ' -f3-4)) 30 s ago and the host side still ran"
      fi
    elif ! qemu_running && [ ! -f $dir/restarting ]; then
      sleep 5
      if [ -z "$(guest_result)" ] && [ ! -f $dir/host-rc.$i ]; then
        inner_dead "the inner guest never answered: its qemu ended during case $i ($name), before the guest side reported"
        ended_by="the inner guest is gone"
      fi
    fi
    if [ -n "$ended_by" ]; then
      say "case $i ($name): ending the host side: $ended_by"
      kill -9 -- "-$(cat $dir/host-pid.$i)" 2>/dev/null
      break
    fi
    sleep 0.5
  done
  wait $pipe
  host_rc=$(cat $dir/host-rc.$i 2>/dev/null || echo 1)
  if [ "$host_rc" = 137 ] && [ -z "$ended_by" ]; then
    say "case $i ($name): the host side was killed after ${CASE_LIMIT}s"
  fi

  # The guest side's result: the inner guest's I-th RESULT line.
  t1=$(up)
  line=
  while [ ! -f $dir/inner-dead ]; do
    line=$(guest_result)
    [ -n "$line" ] && break
    if ! qemu_running; then
      inner_dead "the inner guest never answered: its qemu ended during case $i ($name)"
      break
    fi
    if [ "$(awk -v a="$t1" -v b="$(up)" -v l="$RESULT_LIMIT" 'BEGIN { print (b - a > l) }')" = 1 ]; then
      inner_dead "the inner guest never answered: no result for case $i ($name) within ${RESULT_LIMIT}s after the host side ended"
      break
    fi
    sleep 0.2
  done
  if [ -n "$line" ]; then
    guest_rc=$(echo "$line" | cut -d' ' -f4)
  else
    guest_rc=124
    console_tail
  fi
  say "case $i ($name): host side exit $host_rc, guest side exit $guest_rc ($(since "$t0") s)"
  # A guest that never answered, or a guest side that failed before the host
  # side could meet it, decides: the host side's failure only follows from it.
  if [ "$guest_rc" = 124 ] && [ -z "$line" ]; then exit 124; fi
  if [ -n "$ended_by" ] && [ "$guest_rc" != 0 ]; then exit "$guest_rc"; fi
  if [ "$host_rc" != 0 ]; then exit "$host_rc"; fi
  exit "$guest_rc"
  ;;

restart)
  i=${2:?case number}
  # The host side killed qemu with SIGKILL: it is gone as soon as the kernel
  # has torn it down (its memory freed, its vhost device released).
  t0=$(up)
  while qemu_running; do
    if [ "$(awk -v a="$t0" -v b="$(up)" 'BEGIN { print (b - a > 30) }')" = 1 ]; then
      say "restart: the inner guest's qemu still runs 30 s after it was killed"
      rm -f $dir/restarting
      exit 1
    fi
    sleep 0.1
  done
  say "restart: the old inner guest is gone ($(since "$t0") s); booting it again to run case $i's guest side"
  rc=0
  boot_inner " vmsock_run_from=$i" "$RESULT_LIMIT" || rc=$?
  rm -f $dir/restarting
  [ $rc = 0 ] && say "inner guest booted again: $boot_s s after qemu started (its own uptime ${booted} s)"
  exit $rc
  ;;

stop)
  t0=$(up)
  rc=0
  while ! grep -q '^VMSOCK-VM DONE ' $dir/status.log; do
    if ! qemu_running || [ -f $dir/inner-dead ] ||
       [ "$(awk -v a="$t0" -v b="$(up)" -v l="$RESULT_LIMIT" 'BEGIN { print (b - a > l) }')" = 1 ]; then
      say "the inner guest never reported DONE"
      rc=124
      break
    fi
    sleep 0.2
  done
  [ $rc = 0 ] && say "inner guest: $(grep '^VMSOCK-VM DONE ' $dir/status.log | tr -d '\r')"
  # It powers itself off after DONE.
  for _ in $(seq 1 100); do qemu_running || break; sleep 0.2; done
  if qemu_running; then
    say "the inner guest's qemu is still running: killing it"
    kill -9 -- "-$(cat $dir/qemu.pid)" 2>/dev/null
  fi
  sleep 1.5   # tail -f reads once a second: the last lines
  while read -r pid; do kill -- "-$pid" 2>/dev/null; done <$dir/streams
  exit $rc
  ;;

*)
  echo "usage: nested-outer.sh start | case I NAME | restart I | stop" >&2
  exit 2
  ;;
esac
