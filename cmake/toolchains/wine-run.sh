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
      server="$(dirname "$wine")/wineserver"
      [ -x "$server" ] || server=wineserver
      "$server" -w >/dev/null 2>&1 || true
      if [ ! -f "$WINEPREFIX/system.reg" ]; then
        echo "wine-run.sh: could not create the Wine prefix $WINEPREFIX" >&2
        exit 125
      fi
    fi
  ) 9>"$WINEPREFIX.lock"
fi

exec "$wine" "$@"
