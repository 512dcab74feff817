#!/bin/sh
# Runs echo_server and echo_client against each other, as a ctest case does:
#
#   echo_pair.sh SERVER CLIENT URI [CLIENT OPTIONS...]
#
# "{tmp}" in URI becomes a fresh temporary directory (unix://{tmp}/echo.sock,
# unix://@{tmp}/echo).  The server is started with --count 1 and --ready-file;
# the client is given the URI the server wrote there (the port the OS picked for
# tcp://127.0.0.1:0).  Passes when both exit with 0.
set -u
server=$1
client=$2
uri=$3
shift 3

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-echo.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
uri=$(printf '%s' "$uri" | sed "s|{tmp}|$dir|g")

"$server" --count 1 --ready-file "$dir/ready" "$uri" &
server_pid=$!

# Wait (at most 10 s) for the server to listen.
tries=0
while [ ! -s "$dir/ready" ]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"
    echo "echo_pair: echo_server exited with $? before it listened" >&2
    exit 1
  fi
  tries=$((tries + 1))
  if [ "$tries" -gt 200 ]; then
    echo "echo_pair: echo_server did not listen within 10 s" >&2
    kill "$server_pid"
    exit 1
  fi
  sleep 0.05
done

"$client" "$(cat "$dir/ready")" "$@"
client_rc=$?
if [ "$client_rc" -ne 0 ]; then
  # A client that never connected would leave the server waiting forever.
  kill "$server_pid" 2>/dev/null
fi
wait "$server_pid"
server_rc=$?
echo "echo_pair: echo_client exited with $client_rc, echo_server with $server_rc"
[ "$client_rc" -eq 0 ] && [ "$server_rc" -eq 0 ]
