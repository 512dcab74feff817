#!/usr/bin/env bash
# fetch-kernel.sh — get a Debian cloud kernel for vmsock's test guest.
#
# Usage: fetch-kernel.sh [--cache DIR] [--package NAME] [--refresh] [--quiet]
#
# Resolves the image package that linux-image-cloud-amd64 depends on (for
# example linux-image-6.1.0-56-cloud-amd64), downloads it with
# `apt-get download` and unpacks it with `dpkg-deb -x` into DIR (default:
# ./vm-kernel).  Nothing is installed: /boot and the package database are
# never touched.  When DIR already holds an unpacked kernel it is reused
# without asking apt anything, so reruns are offline and fast; --refresh
# resolves the package again (and downloads it when the version changed).
#
# On success it writes DIR/kernel.env (shell syntax, sourced by
# make-initramfs.sh and run-in-vm.sh):
#   VMSOCK_VM_KVER      kernel release, e.g. 6.1.0-56-cloud-amd64
#   VMSOCK_VM_KERNEL    path of the bzImage (boot/vmlinuz-<release>)
#   VMSOCK_VM_MODULES   the lib/modules/<release> directory
#   VMSOCK_VM_PACKAGE   package name and version it came from
# and prints one line saying what it used.
#
# Exit status: 0 on success, 1 on failure (with a message naming the cause).
set -euo pipefail

cache=./vm-kernel
meta=linux-image-cloud-amd64
refresh=0
quiet=0

die() { echo "fetch-kernel: $*" >&2; exit 1; }
say() { [ "$quiet" = 1 ] || echo "fetch-kernel: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=${2:?--cache needs a directory}; shift 2 ;;
    --package) meta=${2:?--package needs a name}; shift 2 ;;
    --refresh) refresh=1; shift ;;
    --quiet) quiet=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
env_file=$cache/kernel.env

# Is the kernel described by kernel.env still complete on disk?
cached_ok() {
  [ -f "$env_file" ] || return 1
  (
    # shellcheck disable=SC1090
    . "$env_file"
    [ -f "$VMSOCK_VM_KERNEL" ] && [ -d "$VMSOCK_VM_MODULES" ]
  )
}

# Several ctest cases may start at once: one fetches, the others wait for it.
exec 9>"$cache/.lock"
flock 9

if [ "$refresh" = 0 ] && cached_ok; then
  # shellcheck disable=SC1090
  . "$env_file"
  say "using cached $VMSOCK_VM_PACKAGE ($VMSOCK_VM_KERNEL)"
  exit 0
fi

command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian-like host (or put a kernel.env in $cache by hand)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

# The metapackage depends on exactly one versioned image package.
resolve() {
  apt-cache depends "$meta" 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1
}
pkg=$(resolve)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
  say "apt does not know $meta yet: running apt-get update"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  pkg=$(resolve)
fi
[ -n "$pkg" ] || die "cannot resolve the package $meta depends on (run apt-get update?)"
version=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then die "no candidate version for $pkg"; fi

dest=$cache/${pkg}_${version}
if [ ! -f "$dest/.unpacked" ]; then
  work=$(mktemp -d "$cache/.download.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  say "downloading $pkg $version"
  apt_opts=(-q)
  # As root, apt drops privileges to _apt, who cannot write to our directory.
  [ "$(id -u)" = 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
  (cd "$work" && apt-get "${apt_opts[@]}" download "$pkg=$version" >/dev/null) ||
    die "apt-get download $pkg=$version failed"
  deb=$(find "$work" -maxdepth 1 -name "*.deb" | head -n1)
  [ -n "$deb" ] || die "apt-get download produced no .deb"
  rm -rf "$dest"
  mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest" || die "dpkg-deb -x $deb failed"
  touch "$dest/.unpacked"
  rm -rf "$work"
  trap - EXIT
fi

kernel=$(find "$dest/boot" -maxdepth 1 -name "vmlinuz-*" 2>/dev/null | head -n1)
[ -n "$kernel" ] || die "no boot/vmlinuz-* in $pkg"
kver=${kernel##*/vmlinuz-}
moddir=
for d in "$dest/lib/modules/$kver" "$dest/usr/lib/modules/$kver"; do
  [ -d "$d" ] && moddir=$d && break
done
[ -n "$moddir" ] || die "no lib/modules/$kver in $pkg"

tmp_env=$(mktemp "$cache/.kernel.env.XXXXXX")
cat >"$tmp_env" <<EOF
# Written by fetch-kernel.sh; delete this file (or pass --refresh) to fetch again.
VMSOCK_VM_KVER='$kver'
VMSOCK_VM_KERNEL='$kernel'
VMSOCK_VM_MODULES='$moddir'
VMSOCK_VM_PACKAGE='$pkg $version'
EOF
mv "$tmp_env" "$env_file"

# Keep only the newest unpacked kernel.
for old in "$cache"/linux-image-*; do
  [ -d "$old" ] && [ "$old" != "$dest" ] && rm -rf "$old"
done
say "using $pkg $version ($kernel)"
