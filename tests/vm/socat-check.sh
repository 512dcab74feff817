#!/bin/sh
# socat-check.sh — run in the test guest: proves that socat, bundled with its
# shared libraries, works there and carries AF_VSOCK traffic on CID 1:
#   1. one-way: socat VSOCK-CONNECT -> socat VSOCK-LISTEN, bytes compared
#   2. echo: socat VSOCK-LISTEN with EXEC:cat, socat VSOCK-CONNECT reads back
# Usage: socat-check.sh [PORT]   (uses PORT and PORT+1; default 42000)
set -u
port=${1:-42000}
fail=0

ok() { echo "ok      - $*"; }
bad() { echo "not ok  - $*"; fail=1; }

# Connect, retrying while the listener is still starting (ECONNRESET).
connect_retry() { # port input-file output-file
  i=0
  while ! socat -t 5 - "VSOCK-CONNECT:1:$1" <"$2" >"$3" 2>/tmp/socat-connect.err; do
    i=$((i + 1))
    if [ "$i" -ge 50 ]; then
      cat /tmp/socat-connect.err
      return 1
    fi
    sleep 0.1
  done
}

if socat -V | grep -q 'WITH_VSOCK 1'; then
  ok "socat runs in the guest and has VSOCK"
else
  bad "socat runs in the guest and has VSOCK"
fi

# 1. one-way
head -c 100000 /dev/urandom >/tmp/payload
: >/tmp/empty
socat -u "VSOCK-LISTEN:$port" CREATE:/tmp/received &
listener=$!
if connect_retry "$port" /tmp/payload /tmp/empty; then
  wait "$listener"
  if cmp -s /tmp/payload /tmp/received; then
    ok "socat VSOCK-CONNECT:1:$port -> VSOCK-LISTEN:$port, 100000 bytes intact"
  else
    bad "socat one-way transfer: bytes differ"
  fi
else
  kill "$listener" 2>/dev/null
  bad "socat VSOCK-CONNECT:1:$port never connected"
fi

# 2. echo through EXEC:cat
port2=$((port + 1))
printf 'echo me over vsock\n' >/tmp/line
socat "VSOCK-LISTEN:$port2" EXEC:cat &
listener=$!
if connect_retry "$port2" /tmp/line /tmp/echoed; then
  wait "$listener"
  if cmp -s /tmp/line /tmp/echoed; then
    ok "socat echo over VSOCK-LISTEN:$port2 / VSOCK-CONNECT:1:$port2"
  else
    bad "socat echo: got '$(cat /tmp/echoed)'"
  fi
else
  kill "$listener" 2>/dev/null
  bad "socat VSOCK-CONNECT:1:$port2 never connected"
fi

exit "$fail"
