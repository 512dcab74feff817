#!/bin/sh
# asio_interop.sh — run in the test guest (vm_asio): the asio_agent example
# and its client over VSOCK, and socat as the peer of each.
#   1. asio_agent on vsock://any:P, hvsock://wildcard/P+1, tcp://127.0.0.1:0
#      and a Unix socket at once; asio_agent_client --each: 10 connections to
#      every one of them at the same time (40, one agent thread)
#   2. socat VSOCK-CONNECT as the client of asio_agent (an asio server)
#   3. socat VSOCK-LISTEN ... EXEC:cat as the server of asio_agent_client (an
#      asio client); its connect_first falls back over a dead port first,
#      and then its async_connect_first (--async) does the same
# Usage: asio_interop.sh [PORT]   (uses PORT .. PORT+4; default 30000)
# Every wait is bounded; prints ok / not ok lines, exits 1 on any failure.
set -u
port=${1:-30000}
dir=/tmp/asio-interop
mkdir -p "$dir"
fail=0

ok() { echo "ok      - $*"; }
bad() { echo "not ok  - $*"; fail=1; }

# Waits (at most 10 s) for the agent with pid $1 to write its ready file $2.
wait_ready() {
  i=0
  while [ ! -s "$2" ]; do
    if ! kill -0 "$1" 2>/dev/null; then return 1; fi
    i=$((i + 1))
    if [ "$i" -gt 200 ]; then return 1; fi
    sleep 0.05
  done
}

# Waits (at most 30 s) for pid $1 to exit; its status, or 124 after killing it.
wait_bounded() {
  i=0
  while kill -0 "$1" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then
      kill -9 "$1" 2>/dev/null
      wait "$1" 2>/dev/null
      return 124
    fi
    sleep 0.1
  done
  wait "$1"
}

# 1. every transport at once
asio_agent --count 40 --ready-file "$dir/ready" "vsock://any:$port" \
  "hvsock://wildcard/$((port + 1))" tcp://127.0.0.1:0 "unix://$dir/agent.sock" &
agent=$!
if wait_ready "$agent" "$dir/ready"; then
  echo "asio_interop: clients to $(tr '\n' ' ' <"$dir/ready")"
  # shellcheck disable=SC2046 # one URI a line, on purpose
  if asio_agent_client --each --connections 10 $(cat "$dir/ready") --bytes 1M --pings 10 \
      >"$dir/client.log" 2>&1; then
    ok "asio_agent_client: 10 connections to each of vsock, hvsock, tcp and unix at once"
  else
    bad "asio_agent_client --each failed:"
    cat "$dir/client.log"
  fi
  tail -n 1 "$dir/client.log"
  if wait_bounded "$agent"; then
    ok "asio_agent served 40 connections and exited"
  else
    bad "asio_agent exited with $?"
  fi
else
  bad "asio_agent did not listen"
  kill "$agent" 2>/dev/null
fi

# 2. socat as the client of an asio server
p2=$((port + 2))
head -c 1048576 /dev/urandom >"$dir/payload"
asio_agent --count 1 --ready-file "$dir/ready2" "vsock://any:$p2" >"$dir/agent2.log" 2>&1 &
agent=$!
if wait_ready "$agent" "$dir/ready2" &&
    socat -t 30 - "VSOCK-CONNECT:1:$p2" <"$dir/payload" >"$dir/echoed" 2>"$dir/socat.err" &&
    cmp -s "$dir/payload" "$dir/echoed"; then
  ok "socat VSOCK-CONNECT:1:$p2 -> asio_agent: 1 MiB echoed intact"
else
  bad "socat -> asio_agent: $(cat "$dir/socat.err") $(cat "$dir/agent2.log")"
fi
wait_bounded "$agent" || bad "asio_agent (socat's server) exited with $?"
cat "$dir/agent2.log"

# 3. socat as the server of an asio client, reached after a dead port
p3=$((port + 3))
dead=$((port + 4))
socat "VSOCK-LISTEN:$p3,fork" EXEC:cat &
listener=$!
i=0
until asio_agent_client "vsock://1:$dead" "vsock://1:$p3" --bytes 1M --pings 10 \
    >"$dir/client3.log" 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 50 ]; then break; fi  # socat still starting: retry, 5 s at most
  sleep 0.1
done
if [ "$i" -lt 50 ] && grep -q "checksums match" "$dir/client3.log" &&
    grep -q "vsock://1:$dead: connection refused" "$dir/client3.log"; then
  ok "asio_agent_client -> socat VSOCK-LISTEN:$p3 EXEC:cat (after vsock://1:$dead, refused)"
else
  bad "asio_agent_client -> socat:"
fi
cat "$dir/client3.log"
# The same list made asynchronously: vmsock::asio::async_connect_first.
if asio_agent_client --async "vsock://1:$dead" "vsock://1:$p3" --bytes 1M --pings 10 \
    >"$dir/client4.log" 2>&1 && grep -q "checksums match" "$dir/client4.log" &&
    grep -q "vsock://1:$dead: connection refused" "$dir/client4.log"; then
  ok "asio_agent_client --async (async_connect_first) -> socat VSOCK-LISTEN:$p3 (after vsock://1:$dead, refused)"
else
  bad "asio_agent_client --async -> socat:"
fi
cat "$dir/client4.log"
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null

exit "$fail"
