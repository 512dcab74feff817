#!/bin/sh
# tool-mux.sh — run in the test guest (busybox sh): `vmsock mux` (tools/vmsock)
# in front of real AF_VSOCK.  With vsock_loopback the guest talks to itself
# on CID 1, so one guest plays both parts: the "VM" (VSOCK listeners and
# clients on CID 1) and the host (Firecracker-style clients of the mux's Unix
# socket, Unix listeners on <uds>_<port>).  TARGET is vsock://1.
#
#   tool-mux.sh test [PORT]     the checks below (ports PORT..PORT+9)
#   tool-mux.sh bench MIB ROUNDS CONNECTS [PORT]
#                               bench_mux: throughput and connect latency
#                               through the mux (its default, and with
#                               --splice always) and through the raw-syscall
#                               baseline of a mux (benchmarks/raw_mux.hpp)
#                               against direct AF_VSOCK, paired in one run,
#                               with direct twice as an A/A control
#                               (bench_mux.cpp says how)
#
# test (the guest's echo service: socat VSOCK-LISTEN:P,fork PIPE):
#   1. vmsock's hybrid client (vmsock cat - hybrid-vsock:///tmp/fc.sock:P)
#      through the mux: 1 MiB checksummed, both ends passed on
#   2. socat as the client (socat - UNIX-CONNECT:/tmp/fc.sock), the CONNECT
#      line written by hand with 1 MiB after it in the same write: "OK n"
#      with n >= 2^30, then the echo whole
#   3. a port nothing listens on, a malformed line: closed without a word;
#      vmsock cat says "connection refused" (exit 1); both in the mux's log
#   4. guest -> host with --guest-port G: socat VSOCK-CONNECT:1:G reaches
#      socat UNIX-LISTEN:/tmp/fc.sock_G (an echo), checksummed
#   5. the same for G2 served by vmsock cat listen:hybrid-vsock:///tmp/fc.sock:G2
#   6. the peer filter: a second mux, for vsock://7, refuses CID 1 on its
#      guest port (closed, counted, logged); SIGTERM ends it with exit 0
#   7. 100 hybrid clients at once (vmsock cat, each holding its connection
#      open until all 100 have their OK), each echoed and checksummed
#   8. SIGTERM: exit 0, /tmp/fc.sock removed, the summary counts every
#      request above
# Every wait is bounded (timeout, or a counted loop); a failure says which
# check and why.
set -u
mode=${1:-test}

fail=0
ok() { echo "ok      - $*"; }
bad() { echo "not ok  - $*"; fail=1; }

md5() { md5sum "$1" | cut -d' ' -f1; }
now() { read -r up _ </proc/uptime; echo "$up"; }

# The number of lines of file $2 matching $1 (0 when none, or no file).
count() {
  n=$(grep -c -e "$1" "$2" 2>/dev/null)
  echo "${n:-0}"
}
# Waits until file $2 has at least $3 lines matching $1: at most $4 tenths
# of a second (default 100).
wait_count() {
  i=0
  while [ "$(count "$1" "$2")" -lt "$3" ]; do
    i=$((i + 1))
    [ "$i" -ge "${4:-100}" ] && return 1
    sleep 0.1
  done
  return 0
}
# Waits (at most 10 s) for a Unix socket file.
wait_sock() {
  i=0
  until [ -S "$1" ]; do
    i=$((i + 1))
    [ "$i" -ge 100 ] && return 1
    sleep 0.1
  done
}
# A VSOCK listener cannot be seen from outside in every kernel: a short pause.
wait_vsock() { sleep 0.3; }

run_tests() {
  p=${1:-45000}
  echo_port=$p g1=$((p + 1)) g2=$((p + 2)) g3=$((p + 3)) dead=$((p + 9))
  head -c 1048576 /dev/urandom >/tmp/one
  head -c 300000 /dev/urandom >/tmp/g.in

  timeout 150 socat VSOCK-LISTEN:$echo_port,fork,backlog=256 PIPE 2>/tmp/echo.err &
  echo_srv=$!
  # The host's service for the guest's port g1 (Firecracker would connect there).
  timeout 150 socat -t 10 UNIX-LISTEN:/tmp/fc.sock_$g1,fork EXEC:cat 2>/tmp/g1.err &
  g1_srv=$!
  wait_vsock
  wait_sock /tmp/fc.sock_$g1 || bad "the Unix echo for guest port $g1 never listened"
  timeout 150 vmsock mux -v --guest-port $g1 --guest-port $g2 /tmp/fc.sock vsock://1 2>/tmp/mux.log &
  mux=$!
  if ! wait_count "guest port $g2" /tmp/mux.log 1; then
    bad "the mux never listened"
    cat /tmp/mux.log
    return
  fi

  # 1. vmsock's hybrid client through the mux.
  timeout 60 vmsock cat - "hybrid-vsock:///tmp/fc.sock:$echo_port" </tmp/one >/tmp/one.got 2>/tmp/c1.err
  c=$?
  if [ "$c" = 0 ] && [ "$(md5 /tmp/one)" = "$(md5 /tmp/one.got)" ]; then
    ok "vmsock cat - hybrid-vsock:///tmp/fc.sock:$echo_port: 1 MiB echoed whole through the mux [$(now) s]"
  else
    bad "vmsock cat through the mux: exit $c, $(wc -c </tmp/one.got) of 1048576 bytes"
    cat /tmp/c1.err
  fi

  # 2. socat as the client: the line by hand, the data in the same write.
  { printf 'CONNECT %d\n' "$echo_port"; cat /tmp/one; } >/tmp/req
  timeout 60 socat -t 10 - UNIX-CONNECT:/tmp/fc.sock </tmp/req >/tmp/req.got 2>/tmp/c2.err
  c=$?
  first=$(head -n 1 /tmp/req.got)
  n=${first#OK }
  tail -c +$((${#first} + 2)) /tmp/req.got >/tmp/req.data
  case $n in '' | *[!0-9]*) n=0 ;; esac
  if [ "$c" = 0 ] && [ "$first" = "OK $n" ] && [ "$n" -ge 1073741824 ] &&
    [ "$(md5 /tmp/one)" = "$(md5 /tmp/req.data)" ]; then
    ok "socat UNIX-CONNECT with the line by hand: '$first', then 1 MiB echoed whole [$(now) s]"
  else
    bad "socat as the client: exit $c, first line '$first', $(wc -c </tmp/req.data) of 1048576 bytes after it"
    cat /tmp/c2.err
  fi

  # 3. Refusals: closed without a word.
  printf 'CONNECT %d\n' "$dead" | timeout 20 socat -t 5 - UNIX-CONNECT:/tmp/fc.sock >/tmp/dead.got 2>/dev/null
  printf 'HELLO 5000\n' | timeout 20 socat -t 5 - UNIX-CONNECT:/tmp/fc.sock >/tmp/bad.got 2>/dev/null
  timeout 20 vmsock cat - "hybrid-vsock:///tmp/fc.sock:$dead" </dev/null >/dev/null 2>/tmp/c3.err
  c=$?
  if [ ! -s /tmp/dead.got ] && [ ! -s /tmp/bad.got ] && [ "$c" = 1 ] && grep -q 'connection refused' /tmp/c3.err &&
    wait_count "CONNECT $dead: connect to vsock://1:$dead: " /tmp/mux.log 2 &&
    wait_count 'malformed request "HELLO 5000\\n"' /tmp/mux.log 1; then
    ok "a dead port and a malformed line: closed without a word; vmsock cat: $(cut -c1-60 /tmp/c3.err)..."
  else
    bad "refusals: $(wc -c </tmp/dead.got) and $(wc -c </tmp/bad.got) bytes answered, vmsock cat exit $c"
    cat /tmp/c3.err /tmp/mux.log
  fi

  # 4. Guest -> host, port g1: to socat UNIX-LISTEN:/tmp/fc.sock_g1.
  timeout 60 socat -t 10 - VSOCK-CONNECT:1:$g1 </tmp/g.in >/tmp/g1.got 2>/tmp/c4.err
  c=$?
  if [ "$c" = 0 ] && [ "$(md5 /tmp/g.in)" = "$(md5 /tmp/g1.got)" ] &&
    wait_count "guest vsock://1:[0-9]* to port $g1 -> unix:///tmp/fc.sock_$g1" /tmp/mux.log 1; then
    ok "guest port $g1 (--guest-port): socat VSOCK-CONNECT:1:$g1 -> /tmp/fc.sock_$g1, 300000 bytes echoed [$(now) s]"
  else
    bad "guest port $g1: exit $c, $(wc -c </tmp/g1.got) of 300000 bytes"
    cat /tmp/c4.err /tmp/g1.err /tmp/mux.log
  fi

  # 5. Guest -> host, port g2: vmsock's hybrid listener serves /tmp/fc.sock_g2.
  timeout 60 vmsock cat -v "listen:hybrid-vsock:///tmp/fc.sock:$g2" exec:cat 2>/tmp/g2.log &
  g2_srv=$!
  wait_count 'listening on' /tmp/g2.log 1 || bad "vmsock cat listen:hybrid-vsock:// never listened"
  timeout 60 socat -t 10 - VSOCK-CONNECT:1:$g2 </tmp/g.in >/tmp/g2.got 2>/tmp/c5.err
  c=$?
  wait "$g2_srv"
  s=$?
  if [ "$c$s" = 00 ] && [ "$(md5 /tmp/g.in)" = "$(md5 /tmp/g2.got)" ]; then
    ok "guest port $g2: served by vmsock cat listen:hybrid-vsock:///tmp/fc.sock:$g2, 300000 bytes echoed [$(now) s]"
  else
    bad "guest port $g2: client exit $c, listener exit $s, $(wc -c </tmp/g2.got) of 300000 bytes"
    cat /tmp/c5.err /tmp/g2.log /tmp/mux.log
  fi

  # 6. The peer filter: a mux for CID 7 refuses CID 1 on its guest port.
  timeout 60 vmsock mux -v --guest-port $g3 /tmp/other.sock vsock://7 2>/tmp/mux7.log &
  mux7=$!
  wait_count "guest port $g3" /tmp/mux7.log 1 || bad "the second mux never listened"
  echo "not for you" | timeout 20 socat -t 5 - VSOCK-CONNECT:1:$g3 >/tmp/g3.got 2>/dev/null
  wait_count "refused vsock://1:" /tmp/mux7.log 1
  kill -TERM "$mux7"
  wait "$mux7"
  s=$?
  if [ ! -s /tmp/g3.got ] && [ "$s" = 0 ] && [ ! -e /tmp/other.sock ] &&
    grep -q "guest port $g3: refused vsock://1:[0-9]* (not the target VM, vsock://7); 1 refused on this port" /tmp/mux7.log &&
    grep -q "guest: 0 connections (0 relayed, 0 not connected), 1 refused by the peer filter" /tmp/mux7.log; then
    ok "the peer filter: a mux for vsock://7 refused CID 1 on guest port $g3, logged and counted; SIGTERM: exit 0"
  else
    bad "the peer filter: $(wc -c </tmp/g3.got) bytes answered, exit $s"
    cat /tmp/mux7.log
  fi

  # 7. 100 hybrid clients at once.  Client i sends the i-th 25000 bytes of
  # /tmp/all, then holds its stdin open until the gate opens, which is after
  # all 100 have their OK: every connection is open at the same time.  The
  # gate is a FIFO the script holds open for writing (fd 3); closing it ends
  # every reader.  The echoes, put end to end in order, must be /tmp/all.
  # (Few processes per client: under TCG each start costs.)
  head -c 2500000 /dev/urandom >/tmp/all
  rm -f /tmp/gate
  mkfifo /tmp/gate
  exec 3<>/tmp/gate
  oks=$(count ': OK [0-9]*$' /tmp/mux.log)
  closes=$(count '] closed after' /tmp/mux.log)
  pids=""
  i=1
  while [ "$i" -le 100 ]; do
    (
      exec 3>&-
      dd if=/tmp/all bs=25000 skip=$((i - 1)) count=1 2>/dev/null
      read -r _ </tmp/gate
    ) | timeout 150 vmsock cat - "hybrid-vsock:///tmp/fc.sock:$echo_port" >/tmp/m$i.got 2>/tmp/m$i.err 3>&- &
    pids="$pids $!"
    i=$((i + 1))
  done
  i=0
  while [ "$(count ': OK [0-9]*$' /tmp/mux.log)" -lt $((oks + 100)) ] && [ "$i" -lt 240 ]; do
    sleep 0.5
    i=$((i + 1))
  done
  open_at_once=$(($(count ': OK [0-9]*$' /tmp/mux.log) - oks - ($(count '] closed after' /tmp/mux.log) - closes)))
  exec 3>&-
  bad_clients=0
  for pid in $pids; do wait "$pid" || bad_clients=$((bad_clients + 1)); done
  i=1
  got=""
  while [ "$i" -le 100 ]; do
    got="$got /tmp/m$i.got"
    i=$((i + 1))
  done
  # shellcheck disable=SC2086
  cat $got >/tmp/all.got
  if [ "$bad_clients" = 0 ] && [ "$open_at_once" = 100 ] && [ "$(md5 /tmp/all)" = "$(md5 /tmp/all.got)" ]; then
    ok "100 hybrid clients at once (100 open through the mux together), each echoed whole [$(now) s]"
  else
    bad "100 at once: $bad_clients clients failed, open at once: $open_at_once, $(wc -c </tmp/all.got) of 2500000 bytes back"
    i=1
    while [ "$i" -le 100 ]; do
      [ "$(wc -c </tmp/m$i.got)" = 25000 ] || { echo "client $i: $(wc -c </tmp/m$i.got) bytes"; cat /tmp/m$i.err; }
      i=$((i + 1))
    done
    tail -n 20 /tmp/mux.log
  fi

  # 8. SIGTERM: exit 0, the socket file removed, the counts.
  kill -TERM "$mux"
  wait "$mux"
  s=$?
  want="105 requests (102 relayed, 1 malformed, 0 unfinished, 2 not connected), 0 closed at the cap; guest: 2 connections (2 relayed, 0 not connected), 0 refused by the peer filter"
  if [ "$s" = 0 ] && [ ! -e /tmp/fc.sock ] && grep -q "stopped by signal 15: $want" /tmp/mux.log; then
    ok "SIGTERM: exit 0, /tmp/fc.sock removed; $want"
  else
    bad "SIGTERM: exit $s, socket file $(ls /tmp/fc.sock 2>&1)"
    tail -n 5 /tmp/mux.log
  fi
  kill "$echo_srv" "$g1_srv" 2>/dev/null
  wait "$echo_srv" 2>/dev/null
  wait "$g1_srv" 2>/dev/null
}

# ---- bench ----------------------------------------------------------------------

run_bench() {
  mib=$1 rounds=$2 connects=$3 p=${4:-46000}
  timeout 900 vmsock mux /tmp/bench.sock vsock://1 2>/tmp/bench-mux.log &
  m1=$!
  timeout 900 vmsock mux --splice always /tmp/bench-splice.sock vsock://1 2>/tmp/bench-splice.log &
  m2=$!
  wait_sock /tmp/bench.sock && wait_sock /tmp/bench-splice.sock || bad "bench: a mux never listened"
  sleep 0.3  # from bind to listen
  timeout 800 bench_mux --port "$p" --mux direct-aa= --mux mux=/tmp/bench.sock \
    --mux mux-splice=/tmp/bench-splice.sock --raw-mux raw-mux=/tmp/bench-raw.sock \
    --mib "$mib" --rounds "$rounds" --connects "$connects"
  r=$?
  [ "$r" = 0 ] || bad "bench_mux: exit $r"
  kill -TERM "$m1" "$m2"
  wait "$m1" || bad "bench: the mux's exit status"
  wait "$m2" || bad "bench: the splicing mux's exit status"
  cat /tmp/bench-mux.log /tmp/bench-splice.log
}

case $mode in
  test) run_tests "${2:-45000}" ;;
  bench) run_bench "${2:-16}" "${3:-12}" "${4:-200}" "${5:-46000}" ;;
  *) echo "usage: $0 test [PORT] | bench MIB ROUNDS CONNECTS [PORT]"; exit 2 ;;
esac
exit "$fail"
