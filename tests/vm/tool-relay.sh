#!/bin/sh
# tool-relay.sh — run in the test guest (busybox sh): the vmsock tool
# (`vmsock cat`, tools/vmsock) relaying between AF_VSOCK on CID 1 and TCP on
# 127.0.0.1, with socat as every peer.  `ip link set lo up` must come first.
#
#   tool-relay.sh test [PORT]        the checks below (ports PORT..PORT+20)
#   tool-relay.sh bench MIB REPS [PORT]
#                                    vsock -> TCP throughput: direct VSOCK, vmsock
#                                    cat (copy loop and splice) and socat as the
#                                    relay, REPS rounds of MIB MiB, interleaved;
#                                    one line per run (benchmarks/relay --guest)
#
# test:
#   1. vsock -> TCP: socat client on VSOCK, vmsock cat listen:vsock:// -> tcp://,
#      socat server on TCP; each peer sends its own bytes and half-closes;
#      both streams arrive whole and both peers end
#   2. TCP -> vsock: the same the other way round
#   3. the same as 1 with --splice always (splice(2) on AF_VSOCK: used, or
#      refused and the copy loop taken; either way the bytes arrive)
#   4. --fork: 8 socat clients at once over VSOCK to an echo server on TCP
#   5. vmsock cid reads 1 (vsock_loopback), and the relay's -v log names CID 1
# Every wait is bounded (timeout); a failure says which check and why.
set -u
mode=${1:-test}

fail=0
ok() { echo "ok      - $*"; }
bad() { echo "not ok  - $*"; fail=1; }

md5() { md5sum "$1" | cut -d' ' -f1; }
now() { read -r up _ </proc/uptime; echo "$up"; }

# Waits (at most 10 s) for the relay's "listening on" line in log $1.
wait_listening() {
  i=0
  until grep -q 'listening on' "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then
      echo "no 'listening on' line in $1:"; cat "$1"
      return 1
    fi
    sleep 0.1
  done
}

# Waits (at most 10 s) until a TCP listener on 127.0.0.1:$1 is up.
wait_tcp() {
  i=0
  until netstat -ltn 2>/dev/null | grep -q "127.0.0.1:$1 "; do
    i=$((i + 1))
    [ "$i" -ge 100 ] && return 1
    sleep 0.1
  done
}
# The same for a VSOCK listener: /proc/net/vsock has no listing in every
# kernel, so a short pause stands in.
wait_vsock() { sleep 0.3; }

# One relay run with both peers sending; $1 name, $2 the relay's listen
# address, $3 its target, $4 the server peer's socat address, $5 the client
# peer's, then options for vmsock cat.
relay_case() {
  name=$1 listen=$2 target=$3 server=$4 client=$5
  shift 5
  rm -f /tmp/relay.log /tmp/srv-got /tmp/cli-got
  timeout 60 socat -t 30 "$server" - </tmp/down >/tmp/srv-got 2>/tmp/srv.err &
  srv=$!
  case $server in
    TCP*) port=${server#TCP-LISTEN:} && wait_tcp "${port%%,*}" || bad "$name: the TCP server never listened" ;;
    *) wait_vsock ;;
  esac
  timeout 60 vmsock cat -v "$@" "$listen" "$target" 2>/tmp/relay.log &
  relay=$!
  if ! wait_listening /tmp/relay.log; then
    bad "$name: the relay never listened"
    kill "$srv" "$relay" 2>/dev/null
    return
  fi
  timeout 60 socat -t 30 - "$client" </tmp/up >/tmp/cli-got 2>/tmp/cli.err
  c=$?
  wait "$srv"
  s=$?
  wait "$relay"
  r=$?
  if [ "$c$s$r" != 000 ]; then
    bad "$name: exit status client $c, server $s, relay $r"
    cat /tmp/cli.err /tmp/srv.err /tmp/relay.log
    return
  fi
  if [ "$(md5 /tmp/srv-got)" != "$(md5 /tmp/up)" ] || [ "$(md5 /tmp/cli-got)" != "$(md5 /tmp/down)" ]; then
    bad "$name: bytes differ ($(wc -c </tmp/srv-got) of $(wc -c </tmp/up) up, $(wc -c </tmp/cli-got) of $(wc -c </tmp/down) down)"
    cat /tmp/relay.log
    return
  fi
  ok "$name: $(wc -c </tmp/up) bytes up and $(wc -c </tmp/down) down intact, both ends passed on $(grep -o '([a-z]*/[a-z]*)' /tmp/relay.log) [$(now) s]"
}

run_tests() {
  p=${1:-43000}
  head -c 4194304 /dev/urandom >/tmp/up
  head -c 1048576 /dev/urandom >/tmp/down

  relay_case "vsock -> tcp" "listen:vsock://any:$p" "tcp://127.0.0.1:$((p + 1))" \
    "TCP-LISTEN:$((p + 1)),bind=127.0.0.1,reuseaddr" "VSOCK-CONNECT:1:$p"
  grep -q 'accepted vsock://1:' /tmp/relay.log && ok "the relay's log names the VSOCK peer (CID 1)" ||
    { bad "the relay's log does not name the VSOCK peer"; cat /tmp/relay.log; }

  # (each boot is a fresh guest: fixed ports are free)
  relay_case "tcp -> vsock" "listen:tcp://127.0.0.1:$((p + 2))" "vsock://1:$((p + 3))" \
    "VSOCK-LISTEN:$((p + 3))" "TCP:127.0.0.1:$((p + 2))"

  relay_case "vsock -> tcp, --splice always" "listen:vsock://any:$((p + 4))" "tcp://127.0.0.1:$((p + 5))" \
    "TCP-LISTEN:$((p + 5)),bind=127.0.0.1,reuseaddr" "VSOCK-CONNECT:1:$((p + 4))" --splice always

  # --fork: 8 clients at once over VSOCK, each echoed by a socat child on TCP.
  e=$((p + 7))
  timeout 60 socat -t 30 "TCP-LISTEN:$e,bind=127.0.0.1,reuseaddr,fork" EXEC:cat &
  echo_srv=$!
  wait_tcp "$e" || bad "--fork: the echo server never listened"
  rm -f /tmp/relay.log
  timeout 60 vmsock cat -v --fork --stats "listen:vsock://any:$((p + 8))" "tcp://127.0.0.1:$e" 2>/tmp/relay.log &
  relay=$!
  wait_listening /tmp/relay.log
  pids=""
  for i in 1 2 3 4 5 6 7 8; do
    head -c $((100000 + i * 1000)) /dev/urandom >"/tmp/c$i"
    timeout 60 socat -t 30 - "VSOCK-CONNECT:1:$((p + 8))" <"/tmp/c$i" >"/tmp/c$i.got" 2>"/tmp/c$i.err" &
    pids="$pids $!"
  done
  bad_clients=0
  for pid in $pids; do wait "$pid" || bad_clients=$((bad_clients + 1)); done
  for i in 1 2 3 4 5 6 7 8; do
    [ "$(md5 "/tmp/c$i")" = "$(md5 "/tmp/c$i.got")" ] || bad_clients=$((bad_clients + 1))
  done
  kill -TERM "$relay"
  wait "$relay"
  rs=$?
  kill "$echo_srv" 2>/dev/null
  wait "$echo_srv" 2>/dev/null
  if [ "$bad_clients" = 0 ] && [ "$rs" = 143 ] && grep -q 'stats: 8 connections (0 failed)' /tmp/relay.log; then
    ok "--fork: 8 VSOCK clients at once, each echoed whole over TCP; SIGTERM ends the relay (143) [$(now) s]"
  else
    bad "--fork: $bad_clients clients failed, relay status $rs"
    cat /tmp/relay.log
  fi

  cid=$(vmsock cid)
  [ "$cid" = 1 ] && ok "vmsock cid: 1" || bad "vmsock cid: '$cid'"
}

# ---- bench ----------------------------------------------------------------------

# One run: socat reads MIB MiB of /dev/zero into VSOCK; the sink (socat to
# /dev/null) is on TCP behind the relay, or on VSOCK for "direct".  Prints
# "case seconds relay_cpu_seconds".
bench_one() {
  kind=$1 mib=$2 p=$3
  bytes=$((mib * 1048576))
  rm -f /tmp/relay.time
  if [ "$kind" = direct ]; then
    socat -u -b 262144 "VSOCK-LISTEN:$p" OPEN:/dev/null &
    sink=$!
    wait_vsock
    target_port=$p
  else
    socat -u -b 262144 "TCP-LISTEN:$((p + 1)),bind=127.0.0.1,reuseaddr" OPEN:/dev/null &
    sink=$!
    wait_tcp $((p + 1)) || echo "bench: the sink never listened"
    case $kind in
      vmsock) time -o /tmp/relay.time vmsock cat "listen:vsock://any:$p" "tcp://127.0.0.1:$((p + 1))" & ;;
      vmsock-splice) time -o /tmp/relay.time vmsock cat --splice always "listen:vsock://any:$p" "tcp://127.0.0.1:$((p + 1))" & ;;
      socat) time -o /tmp/relay.time socat -b 262144 "VSOCK-LISTEN:$p" "TCP:127.0.0.1:$((p + 1))" & ;;
    esac
    relay=$!
    wait_vsock
    target_port=$p
  fi
  t0=$(now)
  timeout 300 socat -u -b 262144 "OPEN:/dev/zero,readbytes=$bytes" "VSOCK-CONNECT:1:$target_port"
  wait "$sink"
  t1=$(now)
  cpu=0
  if [ "$kind" != direct ]; then
    wait "$relay"
    # busybox time: "real 0m 1.23s\nuser 0m 0.10s\nsys 0m 0.50s"
    cpu=$(awk '/^(user|sys)/ { sub(/s$/, "", $3); split($2, m, "m"); t += m[1] * 60 + $3 } END { print t }' /tmp/relay.time)
  fi
  awk -v k="$kind" -v a="$t0" -v b="$t1" -v c="$cpu" -v n="$bytes" \
    'BEGIN { printf "RELAY-BENCH %s %.2f %.3f %d\n", k, b - a, c, n }'
}

run_bench() {
  mib=$1 reps=$2 p=${3:-44000}
  r=0
  while [ "$r" -lt "$reps" ]; do
    # Rotate the order so that no case always runs first (after an idle pause).
    case $((r % 4)) in
      0) order="direct vmsock vmsock-splice socat" ;;
      1) order="vmsock vmsock-splice socat direct" ;;
      2) order="vmsock-splice socat direct vmsock" ;;
      3) order="socat direct vmsock vmsock-splice" ;;
    esac
    for k in $order; do
      bench_one "$k" "$mib" "$p"
      p=$((p + 2))
    done
    r=$((r + 1))
  done
}

case $mode in
  test) run_tests "${2:-43000}" ;;
  bench) run_bench "${2:-64}" "${3:-3}" "${4:-44000}" ;;
  *) echo "usage: $0 test [PORT] | bench MIB REPS [PORT]"; exit 2 ;;
esac
exit "$fail"
