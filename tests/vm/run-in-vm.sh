#!/usr/bin/env bash
# run-in-vm.sh — boot vmsock's test guest under qemu, run test programs in it,
# stream their output here and return their status.
#
# Usage: run-in-vm.sh [options] [make-initramfs options]
#
#   --kernel-cache DIR  where fetch-kernel.sh keeps the kernel
#                       (default $VMSOCK_VM_CACHE, else ./vm-kernel)
#   --initramfs FILE    boot this archive instead of packing one
#   --work DIR          keep the initramfs and the serial logs in DIR
#                       (default: a temporary directory, removed at exit
#                       unless something failed)
#   --timeout SECONDS   hard limit for the whole boot (default 240)
#   --memory SIZE       the guest's RAM, as qemu's -m takes it (default 512M)
#   --cpu MODEL         the CPU model under TCG (default max; KVM uses host)
#   --accel auto|kvm|tcg
#                       auto (default, or $VMSOCK_VM_ACCEL) probes KVM once
#                       and falls back to TCG
#   --test PATH [ARG]... --, --run 'COMMAND', --exe PATH, --file PATH,
#   --modules 'NAME...'
#                       what to run: see make-initramfs.sh --help
#
# Environment: VMSOCK_VM_CACHE and VMSOCK_VM_ACCEL (defaults of the options
# above), VMSOCK_QEMU (the qemu-system-x86_64 to use, default from PATH).
#
# The guest: qemu -M q35 -smp 2 -m 512M (--memory) -nodefaults, no network card, no
# vhost-vsock device, so AF_VSOCK in the guest reaches only itself (CID 1,
# vsock_loopback).  Serial ports: ttyS0 kernel console (a file, its tail is
# printed when something fails), ttyS1 test output (streamed to stdout),
# ttyS2 status lines (see guest-init.sh).
#
# Exit status:
#     0  every test passed
#     N  the exit status of the first failing test (1 when that status is
#        one of the codes below)
#    77  qemu-system-x86_64 is not installed (ctest: SKIP_RETURN_CODE)
#   124  the guest never reported: timeout, kernel panic, crash
#   125  the harness itself failed (bad arguments, no kernel, packing)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EXIT_SKIP=77
EXIT_NO_REPORT=124
EXIT_HARNESS=125

die() { echo "run-in-vm: $*" >&2; exit $EXIT_HARNESS; }
say() { echo "[vm] $*"; }

cache=${VMSOCK_VM_CACHE:-./vm-kernel}
initramfs=
work=
timeout_s=240
memory=512M
tcg_cpu=max
accel=${VMSOCK_VM_ACCEL:-auto}
pack_args=()

while [ $# -gt 0 ]; do
  case "$1" in
    --kernel-cache) cache=${2:?}; shift 2 ;;
    --initramfs) initramfs=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --memory) memory=${2:?}; shift 2 ;;
    --cpu) tcg_cpu=${2:?}; shift 2 ;;
    --accel) accel=${2:?}; shift 2 ;;
    --exe|--file|--run|--modules) pack_args+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --test)
      pack_args+=("$1" "${2:?--test needs a path}"); shift 2
      while [ $# -gt 0 ] && [ "$1" != -- ]; do pack_args+=("$1"); shift; done
      [ $# -gt 0 ] && shift
      pack_args+=(--) ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case "$accel" in auto|kvm|tcg) ;; *) die "--accel must be auto, kvm or tcg" ;; esac
case "$timeout_s" in ''|*[!0-9]*) die "--timeout wants whole seconds" ;; esac

qemu=${VMSOCK_QEMU:-$(command -v qemu-system-x86_64 || true)}
if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
  echo "run-in-vm: SKIP: qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)"
  exit $EXIT_SKIP
fi

if [ -n "$work" ]; then
  mkdir -p "$work" || die "cannot create $work"
  work=$(cd "$work" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-vm.XXXXXX") || die "mktemp failed"
  # Kept when something failed, for its logs.
  trap 'rc=$?; if [ $rc = 0 ]; then rm -rf "$work"; else echo "[vm] logs kept in $work"; fi; exit $rc' EXIT
fi

t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- kernel -----------------------------------------------------------------
"$here/fetch-kernel.sh" --cache "$cache" --quiet || die "no kernel (see fetch-kernel.sh above)"
kernel_env=$(cd "$cache" && pwd)/kernel.env
# shellcheck disable=SC1090
. "$kernel_env"

# --- initramfs --------------------------------------------------------------
if [ -z "$initramfs" ]; then
  [ ${#pack_args[@]} -gt 0 ] || die "nothing to run: give --test, --run or --initramfs"
  initramfs=$work/initramfs.cpio.gz
  "$here/make-initramfs.sh" --kernel-env "$kernel_env" --out "$initramfs" "${pack_args[@]}" ||
    die "make-initramfs.sh failed"
fi
[ -f "$initramfs" ] || die "no such initramfs: $initramfs"

# --- accelerator ------------------------------------------------------------
# A KVM that cannot run this kernel either aborts at once (a PVM /dev/kvm:
# "failed to set MSR 0x10a") or hangs before the kernel prints anything, so the
# probe boots the real kernel (no initramfs: it panics and -no-reboot ends
# qemu) and wants to see "Linux version" on the console within a few seconds.
probe_kvm() {
  if [ ! -e /dev/kvm ]; then why="no /dev/kvm"; return 1; fi
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then why="/dev/kvm is not read/writable by $(id -un)"; return 1; fi
  local log=$work/kvm-probe.log pid
  : >"$log"
  # Through an inner shell, which reaps qemu and so reports an abort into
  # the .err file, not onto our stderr; in a process group of its own, so
  # that one kill ends both.
  setsid bash -c '"$@"; exit $?' probe "$qemu" -M q35 -accel kvm -cpu host -smp 1 -m 256M \
    -nodefaults -display none -no-reboot \
    -kernel "$VMSOCK_VM_KERNEL" -append "console=ttyS0 panic=-1" \
    -serial "file:$log" </dev/null >"$work/kvm-probe.err" 2>&1 &
  pid=$!
  for _ in $(seq 1 80); do   # up to 8 s
    if grep -q 'Linux version' "$log" 2>/dev/null; then
      kill -9 -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null
      why="qemu -accel kvm failed: $(grep -m1 -i 'error\|fail' "$work/kvm-probe.err" || tail -n1 "$work/kvm-probe.err")"
      return 1
    fi
    sleep 0.1
  done
  kill -9 -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  why="the kernel printed nothing under KVM in 8 s"
  return 1
}

# The answer is kept beside the kernel, keyed by what it depends on, so a
# build tree probes once however many VM tests it runs.
why=
if [ "$accel" = auto ]; then
  probe_file=$(dirname "$kernel_env")/kvm-probe
  probe_key="$(uname -r) | $("$qemu" --version | head -n1) | $VMSOCK_VM_PACKAGE | $(ls -l /dev/kvm 2>&1)"
  if [ -f "$probe_file" ] && [ "$(head -n1 "$probe_file")" = "$probe_key" ]; then
    accel=$(sed -n 2p "$probe_file")
    why="$(sed -n 3p "$probe_file"), probed earlier"
  else
    if probe_kvm; then accel=kvm; else accel=tcg; fi
    printf '%s\n%s\n%s\n' "$probe_key" "$accel" "$why" >"$probe_file.$$" &&
      mv "$probe_file.$$" "$probe_file"
  fi
  [ "$accel" = tcg ] && say "KVM unusable ($why); using TCG"
fi
if [ "$accel" = kvm ]; then
  accel_args=(-accel kvm -cpu host)
else
  accel_args=(-accel "tcg,thread=multi" -cpu "$tcg_cpu")
fi

# --- boot -------------------------------------------------------------------
console=$work/console.log
status=$work/status.log
: >"$console"
: >"$status"
say "booting $VMSOCK_VM_KVER under $accel (timeout ${timeout_s}s)"
# Test output goes straight to our stdout through a stdio chardev; stdin is
# /dev/null so qemu never puts a terminal into raw mode.
timeout -k 5 "$timeout_s" "$qemu" \
  -M q35 -smp 2 -m "$memory" -nodefaults -nographic -no-reboot \
  "${accel_args[@]}" \
  -kernel "$VMSOCK_VM_KERNEL" -initrd "$initramfs" \
  -append "console=ttyS0 panic=-1 rdinit=/init random.trust_cpu=on vmsock_test_guest=1" \
  -serial "file:$console" \
  -chardev stdio,id=testout,signal=off -serial chardev:testout \
  -serial "file:$status" \
  </dev/null
qemu_rc=$?
total=$(elapsed)

# --- report -----------------------------------------------------------------
booted=$(sed -n 's/^VMSOCK-VM BOOTED [^ ]* \([0-9.]*\).*/\1/p' "$status" | tr -d '\r')
done_line=$(grep '^VMSOCK-VM DONE ' "$status" | tr -d '\r')
passed=0 failed=0
echo "[vm] ---- results ($VMSOCK_VM_PACKAGE, $accel) ----"
while IFS=' ' read -r _ kind verdict rc secs cmd; do
  [ "$kind" = RESULT ] || continue
  cmd=${cmd%$'\r'}
  if [ "$verdict" = PASS ]; then
    passed=$((passed + 1)); echo "[vm] PASS  ${secs}s  $cmd"
  else
    failed=$((failed + 1)); echo "[vm] FAIL  ${secs}s  $cmd  (exit $rc)"
  fi
done <"$status"

console_tail() { # all | since-init
  if [ "$1" = all ]; then
    echo "[vm] ---- kernel console, last 40 lines ($console) ----"
    tail -n 40 "$console" | tr -d '\r'
  else
    # What the kernel said while the tests ran (warnings, oopses).
    echo "[vm] ---- kernel console since /init started, last 40 lines ($console) ----"
    sed -n '/Run \/init as init process/,$p' "$console" | tail -n 40 | tr -d '\r'
  fi
  echo "[vm] ----"
}

if [ -z "$done_line" ]; then
  if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    echo "[vm] the guest never reported: killed after ${timeout_s}s"
  else
    echo "[vm] the guest never reported (qemu exit status $qemu_rc)"
  fi
  last_run=$(grep -c '^VMSOCK-VM RESULT ' "$status")
  [ -n "$booted" ] && echo "[vm] booted in ${booted}s; $last_run test(s) finished before it stopped"
  console_tail all
  echo "[vm] total ${total}s"
  exit $EXIT_NO_REPORT
fi

first_failure=$(echo "$done_line" | sed -n 's/.*first_failure=\([0-9]*\).*/\1/p')
ntests=$(echo "$done_line" | sed -n 's/.*tests=\([0-9]*\).*/\1/p')
nfailed=$(echo "$done_line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
echo "[vm] $((ntests - nfailed)) passed, $nfailed failed; guest booted in ${booted:-?}s, total ${total}s"
if [ "$nfailed" != 0 ]; then
  console_tail since-init
  case "$first_failure" in
    0|"$EXIT_SKIP"|"$EXIT_NO_REPORT"|"$EXIT_HARNESS") exit 1 ;;
    *) exit "$first_failure" ;;
  esac
fi
exit 0
