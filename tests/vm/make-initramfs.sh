#!/usr/bin/env bash
# make-initramfs.sh — pack vmsock's test guest: busybox, the vsock modules,
# the test programs and an /init that runs them, into one cpio.gz.
#
# Usage: make-initramfs.sh --kernel-env FILE --out FILE.cpio.gz
#                          [--exe PATH[=NAME]]... [--file PATH[=DEST]]...
#                          [--test PATH [ARG]... --]... [--run 'COMMAND']...
#                          [--modules 'NAME...']
#
#   --kernel-env FILE  kernel.env written by fetch-kernel.sh (names the
#                      kernel release and its modules directory)
#   --out FILE         the archive to write
#   --exe PATH[=NAME]  copy an executable to /tests/bin/NAME in the guest
#                      (NAME defaults to its file name); /tests/bin is first
#                      in PATH.  A dynamically linked one brings its shared
#                      libraries and ld.so along, at the paths ldd reports.
#   --file PATH[=DEST] copy any file; DEST is relative to /tests/bin unless
#                      it is absolute.  An ELF file brings its libraries too.
#   --test PATH [ARG]... --
#                      --exe PATH, and run it with ARGs as one test; the
#                      arguments end at `--` (or at the end of the line)
#   --run 'COMMAND'    one test: a busybox sh command line run in /tmp
#   --modules 'NAME...'
#                      the kernel modules /init loads, in this order, each
#                      after the modules it depends on (read from its
#                      depends= field; found anywhere under the kernel's
#                      modules directory).  Default: vsock
#                      vmw_vsock_virtio_transport_common vsock_loopback
#
# Tests run in the order given, each one to its end, whatever the others
# did; a test passes when its exit status is 0.  See run-in-vm.sh for how the
# guest reports.  The environment of every test has VMSOCK_TEST_GUEST=1, and
# the guest's kernel command line has vmsock_test_guest=1: test programs that
# open AF_VSOCK sockets check one of them and refuse to run anywhere else.
#
# Needs busybox-static (/bin/busybox, used for the guest's tools and for
# `busybox cpio -o`), gzip, and xz/zstd only when the modules are compressed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "make-initramfs: $*" >&2; exit 2; }

kernel_env=
out=
exes=()    # "host-path<TAB>guest-path"
runs=()    # command lines
modules="vsock vmw_vsock_virtio_transport_common vsock_loopback"

add_exe() { # host-path guest-path
  [ -f "$1" ] || die "no such file: $1"
  exes+=("$1"$'\t'"$2")
}

while [ $# -gt 0 ]; do
  case "$1" in
    --kernel-env) kernel_env=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --exe|--file)
      spec=${2:?$1 needs a path}; shift 2
      src=${spec%%=*}
      if [ "$spec" = "$src" ]; then dst=${src##*/}; else dst=${spec#*=}; fi
      case "$dst" in /*) ;; *) dst=/tests/bin/$dst ;; esac
      add_exe "$src" "$dst" ;;
    --test)
      src=${2:?--test needs a path}; shift 2
      name=${src##*/}
      add_exe "$src" "/tests/bin/$name"
      cmd=$name
      while [ $# -gt 0 ] && [ "$1" != -- ]; do
        # Quote each argument for sh: 'it'\''s'.
        cmd+=" '${1//\'/\'\\\'\'}'"
        shift
      done
      [ $# -gt 0 ] && shift   # the --
      runs+=("$cmd") ;;
    --run) runs+=("${2:?--run needs a command}"); shift 2 ;;
    --modules) modules=${2:?--modules needs a list}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$kernel_env" ] || die "--kernel-env is required (run fetch-kernel.sh first)"
[ -n "$out" ] || die "--out is required"
[ ${#runs[@]} -gt 0 ] || die "nothing to run: give --test or --run"
for r in "${runs[@]}"; do
  case "$r" in *$'\n'*) die "a test command must be one line: $r" ;; esac
done
# shellcheck disable=SC1090
. "$kernel_env"

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (Debian: apt-get install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked; the guest needs busybox-static"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root,modules,tests/bin}

# busybox and a link for each of its applets.
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

# The kernel modules, in load order: each one's dependencies (its depends=
# field) before it.  Debian 12 ships them as .ko, Debian 13 as .ko.xz;
# busybox insmod wants them plain.
module_file() { # name -> path of NAME.ko* under the modules directory
  local ext f
  for ext in ko ko.xz ko.zst ko.gz; do
    f=$(find "$VMSOCK_VM_MODULES/kernel" \( -name "$1.$ext" -o -name "${1//_/-}.$ext" \) 2>/dev/null | head -n1)
    [ -n "$f" ] && echo "$f" && return 0
  done
  return 1
}
module_plain() { # path -> the module's bytes, decompressed
  case "$1" in
    *.xz) xz -dc "$1" ;;
    *.zst) zstd -qdc "$1" ;;
    *.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
  esac
}
ordered=()
add_module() { # name [chain, for a dependency loop]
  local m=$1 chain=${2:-} f deps d
  case " ${ordered[*]} " in *" $m "*) return 0 ;; esac
  case " $chain " in *" $m "*) die "module dependency loop: $chain $m" ;; esac
  f=$(module_file "$m") || die "module $m not found under $VMSOCK_VM_MODULES"
  # (grep reads to the end: an early exit would break the pipe under pipefail.)
  deps=$(module_plain "$f" | tr '\0' '\n' | grep -a '^depends=' || true)
  deps=${deps#depends=}
  deps=${deps//,/ }
  for d in $deps; do add_module "$d" "$chain $m"; done
  ordered+=("$m")
}
for m in $modules; do add_module "$m"; done
i=0
for m in "${ordered[@]}"; do
  i=$((i + 1))
  module_plain "$(module_file "$m")" >"$root/modules/$(printf %02d "$i")-$m.ko"
done

# Test programs and files, with the shared libraries of dynamic ELF files.
copy_libs() { # elf
  local line lib
  ldd "$1" 2>/dev/null | while read -r line; do
    case "$line" in
      *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
      /*) lib=${line%% (*} ;;
      *) continue ;;
    esac
    if [ ! -e "$root$lib" ]; then
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done
}
for e in "${exes[@]}"; do
  src=${e%%$'\t'*}
  dst=${e#*$'\t'}
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
  if head -c 4 "$src" | grep -q 'ELF'; then
    chmod +x "$root$dst"
    if ldd "$src" >/dev/null 2>&1; then
      copy_libs "$src"
    fi
  fi
done

printf '%s\n' "${runs[@]}" >"$root/tests/run.list"
cp "$here/guest-init.sh" "$root/init"
chmod +x "$root/init"
printf '%s\n' "$VMSOCK_VM_KVER" >"$root/etc/vmsock-kernel"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
  "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
