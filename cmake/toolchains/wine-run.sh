#!/bin/sh
# Runs a Windows program under Wine in a prefix of its own; the cross
# toolchains make this their CMAKE_CROSSCOMPILING_EMULATOR, so ctest, test
# discovery and custom commands all come through here.
#
#   wine-run.sh WINE_LOADER WINEPREFIX PROGRAM.exe [ARGS...]
#
# The prefix is created on first use, under a lock: ctest -j starts several
# programs at once, and two Wines must not build one prefix together.  Nothing
# outside the prefix is touched (no ~/.wine).  Wine's own chatter is off; the
# program's exit status is returned unchanged.
#
# The prefix's wineserver outlives each program: Debian's wrapper starts it with
# -p0, so it exits with the last program, and a program that starts while it
# exits dies at once ("wine client error:0: recvmsg: Connection reset by
# peer"), which a suite of one process per test meets sooner or later.  So the
# first program of a run starts it with a linger (VMSOCK_WINE_LINGER seconds
# after the last program, 30 by default), and brings up Wine's own services
# with no descriptor of a test: they live as long as the server, and one that
# held a test's output would hold ctest's pipe with it.
set -eu

if [ "$#" -lt 3 ]; then
  echo "usage: $0 WINE_LOADER WINEPREFIX PROGRAM [ARGS...]" >&2
  exit 2
fi
wine=$1
WINEPREFIX=$2
shift 2

export WINEPREFIX
export WINEDEBUG="${VMSOCK_WINEDEBUG:--all}"
# No Mono or Gecko installer dialogs while the prefix is created.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
# The 64-bit loader alone: Debian's `wine` script otherwise looks for wine32.
export WINELOADER="$wine"

server="$(dirname "$wine")/wineserver"
[ -x "$server" ] || server=wineserver

mkdir -p "$(dirname "$WINEPREFIX")"
(
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    "$wine" wineboot.exe --init </dev/null >/dev/null 2>&1 9>&- || true
    # wineboot returns before the registry is on disk; wait for wineserver.
    "$server" -w </dev/null >/dev/null 2>&1 9>&- || true
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
      echo "wine-run.sh: could not create the Wine prefix $WINEPREFIX" >&2
      exit 125
    fi
  fi
  # Exit status 0: no server was running, this one is new (one already running
  # refuses to start a second, status 2).  Its first program, with no
  # descriptor of ours (the lock's included: a server holding it would hold
  # the lock), starts Wine's services.
  if "$server" -p"${VMSOCK_WINE_LINGER:-30}" </dev/null >/dev/null 2>&1 9>&-; then
    "$wine" cmd.exe /c exit </dev/null >/dev/null 2>&1 9>&- || true
  fi
) 9>"$WINEPREFIX.lock"

exec "$wine" "$@"
