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

if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$(dirname "$WINEPREFIX")"
  (
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
      "$wine" wineboot.exe --init >/dev/null 2>&1 || true
      # wineboot returns before the registry is on disk; wait for wineserver.
      s="$(dirname "$wine")/wineserver"
      [ -x "$s" ] || s=wineserver
      "$s" -w >/dev/null 2>&1 || true
      if [ ! -f "$WINEPREFIX/system.reg" ]; then
        echo "wine-run.sh: could not create the Wine prefix $WINEPREFIX" >&2
        exit 125
      fi
    fi
  ) 9>"$WINEPREFIX.lock"
fi

# One wineserver for the prefix, kept 30 s after its last program ends and
# started with no descriptor of a test's: otherwise the first program of a
# burst starts a server that inherits its stdout and stderr (ctest then waits
# for it to exit, 3 s after that program), and servers exit and start again
# between tests of a -j run, under the programs starting at that moment (the
# likeliest cause of a program that, once in a few hundred runs under load,
# ended in 0.01 s with no output).  When the prefix's server is running this
# exits at once (status 2); otherwise it runs (in the background: a server
# started by hand stays in the foreground) while Wine's own start-up, which
# takes a starting server's lock as its own, connects to it.
server="$(dirname "$wine")/wineserver"
[ -x "$server" ] || server=wineserver
("$server" -p30 </dev/null >/dev/null 2>&1 &)

exec "$wine" "$@"
