#!/bin/sh
# Runs the registry tests in a Wine prefix of their own, made for the run and
# removed after it, so that HKEY_LOCAL_MACHINE writes never reach the shared
# test prefix (let alone a real machine):
#
#   hv_registry_prefix.sh WINE_RUN WINE_LOADER SECONDS PROGRAM.exe [ARGS...]
#
# WINE_RUN is cmake/toolchains/wine-run.sh, which creates the prefix on first
# use (wineboot, ~10 s).  The program gets VMSOCK_HV_REGISTRY_PREFIX=<the
# prefix>; it writes the registry only when that equals its WINEPREFIX.  The
# run is bounded by SECONDS (timeout(1)); whatever happens, the prefix's
# wineserver is killed (with every process still in that prefix) and the
# directory is removed.
set -eu

if [ "$#" -lt 4 ]; then
  echo "usage: $0 WINE_RUN WINE_LOADER SECONDS PROGRAM [ARGS...]" >&2
  exit 2
fi
run=$1
wine=$2
seconds=$3
shift 3

server="$(dirname "$wine")/wineserver"
[ -x "$server" ] || server=wineserver

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-hv-registry.XXXXXX")
prefix="$dir/prefix"
cleanup() {
  WINEPREFIX="$prefix" "$server" -k >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' HUP INT TERM

export VMSOCK_HV_REGISTRY_PREFIX="$prefix"
status=0
if command -v timeout >/dev/null 2>&1; then
  timeout --kill-after=10 "$seconds" "$run" "$wine" "$prefix" "$@" || status=$?
else
  "$run" "$wine" "$prefix" "$@" || status=$?
fi
if [ "$status" -eq 124 ]; then
  echo "hv_registry_prefix.sh: the tests did not finish within $seconds s" >&2
fi
exit "$status"
