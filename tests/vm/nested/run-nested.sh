#!/usr/bin/env bash
# run-nested.sh — vmsock's tests across a real VM boundary: the test guest of
# run-in-vm.sh (the "outer" guest) loads vhost_vsock and becomes a VSOCK host
# (CID 2); inside it qemu boots an "inner" guest with
# -device vhost-vsock-pci,guest-cid=3 whose virtio transport carries AF_VSOCK
# to it.  One boot of the pair runs a list of cases; each case is a host-side
# command (run in the outer guest) and a guest-side command (run in the inner
# guest) that run at the same time, and passes when both exit 0.
#
# Usage: run-nested.sh [options] --case NAME 'HOST COMMAND' 'GUEST COMMAND'...
#
#   --case NAME HOST GUEST  one case (busybox sh command lines; /tests/bin,
#                        where every file lands, is first in PATH).  Both
#                        commands get VMSOCK_NESTED_CASE=<case number, from 1>
#                        and VMSOCK_NESTED_SIDE=host|guest; the host side also
#                        VMSOCK_NESTED_MONITOR, the inner qemu's monitor
#                        (a Unix socket, HMP).
#   --host-file PATH[=DEST] a file for the outer guest only, --guest-file for
#                        the inner one, --file for both (as make-initramfs.sh
#                        --file: DEST relative to /tests/bin unless absolute;
#                        ELF files bring their shared libraries)
#   --with-socat         socat (and its libraries) on both sides
#   --kernel-cache DIR   as run-in-vm.sh (the same kernel boots both guests)
#   --work DIR           keep the initramfs images and the logs here
#   --timeout SECONDS    hard limit for the whole outer boot (default 1200): the
#                        wall against a hang; the inner guest's limits are
#                        derived from it and from its measured boot time
#   --accel auto|kvm|tcg the outer guest's accelerator (the inner one is TCG)
#   --inner-memory SIZE  the inner guest's RAM (default 256M)
#   --cpu MODEL          the outer guest's CPU model under TCG (default qemu64)
#   --inner-cpu MODEL    the inner guest's CPU model (TCG; default qemu64)
#                        qemu64 rather than max, measured: the inner guest
#                        moved 64 MiB at 5-9 MB/s with max, 10-17 MB/s with
#                        qemu64 (tests/vm/RESULTS.md); a likely cause is that
#                        max offers ERMS/FSRM, so the kernel copies with
#                        `rep movsb`, which TCG emulates byte by byte
#
# Environment: VMSOCK_REQUIRE_SUITES (set by .ci/run): what would be a skip
# (qemu or the kernel package missing) is a failure.  VMSOCK_QEMU as for
# run-in-vm.sh.
#
# Output: run-in-vm.sh's, in which the outer guest's test port carries
# [host] (host-side programs), [guest] (guest-side programs), [inner console]
# (the inner guest's kernel) and [nested] (the harness in the outer guest);
# after it the outer guest's kernel console, labelled [outer console].
#
# Exit status (as run-in-vm.sh's):
#     0  every case passed
#     N  the first failing case's status: its host side's if that failed,
#        else its guest side's (1 when that is one of the codes below)
#    77  skipped: qemu-system-x86_64 or the kernel package is missing
#   124  a guest never answered: the outer one (timeout, panic) or the inner
#        one (did not boot, did not report a case, died)
#   125  the harness itself failed (bad arguments, a missing file, packing)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vm=$(cd "$here/.." && pwd)
EXIT_SKIP=77
EXIT_NO_REPORT=124
EXIT_HARNESS=125

die() { echo "run-nested: $*" >&2; exit $EXIT_HARNESS; }
say() { echo "[nested] $*"; }
# Skipped, with the reason, unless CI wants every suite.
skip_or_fail() {
  if [ -n "${VMSOCK_REQUIRE_SUITES:-}" ]; then
    echo "run-nested: FAIL: $* (VMSOCK_REQUIRE_SUITES is set: no suite may be skipped)"
    exit $EXIT_HARNESS
  fi
  echo "run-nested: SKIP: $*"
  exit $EXIT_SKIP
}

cache=${VMSOCK_VM_CACHE:-./vm-kernel}
work=
timeout_s=1200
accel=${VMSOCK_VM_ACCEL:-auto}
inner_memory=256M
outer_cpu=qemu64
inner_cpu=qemu64
with_socat=0
names=() host_cmds=() guest_cmds=()
host_files=() guest_files=()

while [ $# -gt 0 ]; do
  case "$1" in
    --case)
      [ $# -ge 4 ] || die "--case needs NAME 'HOST COMMAND' 'GUEST COMMAND'"
      case "$2" in *[!A-Za-z0-9._-]*|'') die "a case name is letters, digits, . _ -: $2" ;; esac
      names+=("$2"); host_cmds+=("$3"); guest_cmds+=("$4"); shift 4 ;;
    --host-file) host_files+=("${2:?}"); shift 2 ;;
    --guest-file) guest_files+=("${2:?}"); shift 2 ;;
    --file) host_files+=("${2:?}"); guest_files+=("$2"); shift 2 ;;
    --with-socat) with_socat=1; shift ;;
    --kernel-cache) cache=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --accel) accel=${2:?}; shift 2 ;;
    --inner-memory) inner_memory=${2:?}; shift 2 ;;
    --cpu) outer_cpu=${2:?}; shift 2 ;;
    --inner-cpu) inner_cpu=${2:?}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ ${#names[@]} -gt 0 ] || die "no --case given"
case "$timeout_s" in ''|*[!0-9]*) die "--timeout wants whole seconds" ;; esac
for c in "${host_cmds[@]}" "${guest_cmds[@]}"; do
  case "$c" in *$'\n'*) die "a command must be one line: $c" ;; esac
done

# --- what may be missing: qemu and the kernel (skip), anything else (fail) ----
qemu=${VMSOCK_QEMU:-$(command -v qemu-system-x86_64 || true)}
if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
  skip_or_fail "qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)"
fi
if ! fetch_out=$("$vm/fetch-kernel.sh" --cache "$cache" --quiet 2>&1); then
  skip_or_fail "no kernel package for the guests: $fetch_out"
fi
kernel_env=$(cd "$cache" && pwd)/kernel.env
# shellcheck disable=SC1090
. "$kernel_env"

# qemu inside the outer guest needs what it needs here, at the same paths: its
# TCG accelerator module (loaded from <dir of the binary>/../lib/<triplet>/qemu,
# so the binary goes to /usr/bin) and the firmware for -M pc with -kernel.
qemu_real=$(readlink -f "$qemu")
qemu_moddir=$(cd "$(dirname "$qemu_real")/../lib/x86_64-linux-gnu/qemu" 2>/dev/null && pwd) ||
  die "no $(dirname "$qemu_real")/../lib/x86_64-linux-gnu/qemu (qemu's modules; Debian: qemu-system-common)"
[ -f "$qemu_moddir/accel-tcg-x86_64.so" ] ||
  die "no $qemu_moddir/accel-tcg-x86_64.so: qemu could not run TCG in the outer guest"
firmware=()
for f in bios-256k.bin linuxboot_dma.bin; do
  found=
  for d in /usr/share/qemu /usr/share/seabios; do
    if [ -f "$d/$f" ]; then found=$(readlink -f "$d/$f"); firmware+=("$found=$d/$f"); break; fi
  done
  [ -n "$found" ] || die "firmware $f not found in /usr/share/qemu or /usr/share/seabios (Debian: seabios, qemu-system-data)"
done
if [ "$with_socat" = 1 ]; then
  socat=$(command -v socat || true)
  [ -n "$socat" ] || die "socat is not installed (Debian: apt-get install socat)"
  host_files+=("$socat"); guest_files+=("$socat")
fi

if [ -n "$work" ]; then
  mkdir -p "$work" || die "cannot create $work"
  work=$(cd "$work" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-nested.XXXXXX") || die "mktemp failed"
  trap 'rc=$?; if [ $rc = 0 ]; then rm -rf "$work"; else echo "[nested] logs kept in $work"; fi; exit $rc' EXIT
fi

# --- limits (seconds), inside the outer guest's hard limit ----------------------
# The inner boot took 35-60 s on one machine and 77-97 s on another: no limit
# here is a budget for the work.  The inner qemu lives until `stop` ends it
# (INNER_LIMIT is the wall, less the time to report), a case may take as long
# as the whole run, and the wait for a guest side's result after its host
# side ended is RESULT_LIMIT or three inner boot times as measured in this
# run, whichever is longer (outer.sh).
boot_limit=$(( timeout_s * 2 / 3 ))
inner_limit=$(( timeout_s - 10 ))
cat >"$work/config" <<EOF
INNER_MEMORY=$inner_memory
INNER_CPU=$inner_cpu
BOOT_LIMIT=$boot_limit
CASE_LIMIT=$(( timeout_s - 20 ))
RESULT_LIMIT=150
INNER_LIMIT=$inner_limit
EOF
printf '%s\n' "${host_cmds[@]}" >"$work/host-commands"

# --- the inner guest: the virtio transport, the guest-side commands ----------------
pack=(--kernel-env "$kernel_env" --modules "virtio_pci vmw_vsock_virtio_transport")
for f in "${guest_files[@]}"; do pack+=(--file "$f"); done
for i in "${!names[@]}"; do
  pack+=(--run "export VMSOCK_NESTED_SIDE=guest VMSOCK_NESTED_CASE=$((i + 1)); ${guest_cmds[$i]}")
done
"$vm/make-initramfs.sh" --out "$work/inner.cpio.gz" "${pack[@]}" ||
  die "make-initramfs.sh failed for the inner guest"

# --- the outer guest: vhost_vsock, qemu, the inner guest, the host-side commands ----
pack=(--kernel-env "$kernel_env" --modules vhost_vsock
  --file "$qemu_real=/usr/bin/qemu-system-x86_64"
  --file "$qemu_moddir/accel-tcg-x86_64.so=/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"
  --file "$VMSOCK_VM_KERNEL=/nested/vmlinuz"
  --file "$work/inner.cpio.gz=/nested/inner.cpio.gz"
  --file "$work/config=/nested/config"
  --file "$work/host-commands=/nested/host-commands"
  --file "$here/outer.sh=nested-outer.sh")
for f in "${firmware[@]}"; do pack+=(--file "$f"); done
for f in "${host_files[@]}"; do pack+=(--file "$f"); done
pack+=(--run "nested-outer.sh start")
for i in "${!names[@]}"; do pack+=(--run "nested-outer.sh case $((i + 1)) ${names[$i]}"); done
pack+=(--run "nested-outer.sh stop")
"$vm/make-initramfs.sh" --out "$work/outer.cpio.gz" "${pack[@]}" ||
  die "make-initramfs.sh failed for the outer guest"

say "${#names[@]} case(s), each a host side (outer guest, CID 2) and a guest side (inner guest, CID 3): ${names[*]}"
"$vm/run-in-vm.sh" --kernel-cache "$cache" --initramfs "$work/outer.cpio.gz" --work "$work" \
  --timeout "$timeout_s" --accel "$accel" --memory 1536M --cpu "$outer_cpu"
rc=$?

echo "[nested] ---- the outer guest's kernel console ($work/console.log) ----"
sed 's/\r$//; s/^/[outer console] /' "$work/console.log"
echo "[nested] ----"

# An inner guest that never answered fails its case with 124; say so in the
# exit status too, as for the outer guest.
if [ "$rc" = 1 ] && grep -q '^VMSOCK-VM RESULT FAIL 124 ' "$work/status.log" &&
   [ "$(grep '^VMSOCK-VM RESULT FAIL ' "$work/status.log" | head -n1 | cut -d' ' -f4)" = 124 ]; then
  rc=$EXIT_NO_REPORT
fi
exit "$rc"
