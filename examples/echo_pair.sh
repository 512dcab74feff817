#!/bin/sh
# Runs echo_server and echo_client against each other, as a ctest case does:
#
#   echo_pair.sh [--try-first "URI..."] SERVER CLIENT "URI [URI...]" [CLIENT OPTIONS...]
#
# The server listens on every URI of the third argument (split on spaces; "{tmp}"
# in a URI becomes a fresh temporary directory: unix://{tmp}/echo.sock,
# unix://@{tmp}/echo), with --count set to their number and --ready-file.  Then,
# one after the other, a client is run for each URI the server wrote there (the
# port the OS picked for tcp://127.0.0.1:0), so each transport serves one
# client.  --try-first puts more URIs (split on spaces) before the server's in
# each client's list: entries that must fail, so that the client falls back.
# Passes, and prints "echo_pair: passed", when every program exits with 0.
set -u
try_first=
if [ "${1-}" = "--try-first" ]; then
  try_first=$2
  shift 2
fi
server=$1
client=$2
uris=$3
shift 3

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-echo.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT

# Starts the server on the URIs given as arguments, with {tmp} replaced.
start_server() {
  count=$#
  for u; do
    shift
    set -- "$@" "$(printf '%s' "$u" | sed "s|{tmp}|$dir|g")"
  done
  echo "echo_pair: echo_server --count $count --ready-file $dir/ready $*"
  "$server" --count "$count" --ready-file "$dir/ready" "$@" &
  server_pid=$!
}
set -f
# shellcheck disable=SC2086 # split on spaces, on purpose
start_server $uris
set +f

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

lines=$(wc -l < "$dir/ready")
if [ "$lines" -ne "$count" ]; then
  echo "echo_pair: echo_server wrote $lines URIs to its ready file, not $count" >&2
  kill "$server_pid"
  exit 1
fi

# One client per URI the server listens on.
client_rc=0
exec 3< "$dir/ready"
while [ "$client_rc" -eq 0 ] && IFS= read -r live <&3; do
  set -f
  # shellcheck disable=SC2086 # split on spaces, on purpose
  echo "echo_pair: echo_client" $try_first "$live" "$@"
  # shellcheck disable=SC2086
  "$client" $try_first "$live" "$@"
  client_rc=$?
  set +f
done
exec 3<&-
if [ "$client_rc" -ne 0 ]; then
  # A client that never connected would leave the server waiting forever.
  kill "$server_pid" 2>/dev/null
fi
wait "$server_pid"
server_rc=$?
echo "echo_pair: echo_client exited with $client_rc, echo_server with $server_rc"
[ "$client_rc" -eq 0 ] && [ "$server_rc" -eq 0 ] || exit 1
echo "echo_pair: passed"
