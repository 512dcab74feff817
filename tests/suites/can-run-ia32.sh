#!/usr/bin/env bash
# can-run-ia32.sh — can this machine execute 32-bit x86 programs?
#
# Usage: can-run-ia32.sh
#
# Machines of one kind differ here: a kernel built with CONFIG_IA32_EMULATION
# can still refuse 32-bit programs (ia32_emulation=0 on its command line, or a
# hypervisor that gives it no 32-bit syscall entry).  The probe asks the
# kernel itself, with no package: it writes the smallest static i386 ELF
# program there is (`mov eax, 1; xor ebx, ebx; int 0x80`, that is exit(0)),
# runs it, and reports what the kernel answered.
#
# Prints one line: "yes" or "no: <what the kernel answered>".
# Exit status: 0 when 32-bit x86 programs run here, 1 when they do not.
set -u

case "$(uname -m)" in
  x86_64|i?86) ;;
  *) echo "no: this is a $(uname -m) machine, not x86"; exit 1 ;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsock-ia32.XXXXXX") || { echo "no: mktemp failed"; exit 1; }
trap 'rm -rf "$dir"' EXIT
prog=$dir/exit0

# ELF header (52 bytes), one PT_LOAD program header (32 bytes), 9 bytes of
# code, all at 0x08048000; entry point 0x08048054.
{
  printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000'  # e_ident: 32-bit, LSB, SysV
  printf '\002\000\003\000\001\000\000\000'                          # ET_EXEC, EM_386, EV_CURRENT
  printf '\124\200\004\010\064\000\000\000\000\000\000\000'          # e_entry, e_phoff=52, e_shoff=0
  printf '\000\000\000\000\064\000\040\000\001\000'                  # e_flags, e_ehsize=52, e_phentsize=32, e_phnum=1
  printf '\000\000\000\000\000\000'                                  # e_shentsize, e_shnum, e_shstrndx
  printf '\001\000\000\000\000\000\000\000'                          # PT_LOAD, p_offset=0
  printf '\000\200\004\010\000\200\004\010'                          # p_vaddr, p_paddr
  printf '\135\000\000\000\135\000\000\000'                          # p_filesz=93, p_memsz=93
  printf '\005\000\000\000\000\020\000\000'                          # PF_R|PF_X, p_align=4096
  printf '\270\001\000\000\000\061\333\315\200'                      # mov eax,1; xor ebx,ebx; int 0x80
} >"$prog" || { echo "no: cannot write $prog"; exit 1; }
chmod +x "$prog"

out=$("$prog" 2>&1)
rc=$?
if [ "$rc" = 0 ]; then
  echo yes
  exit 0
fi
out=${out##*: }   # bash's "…/exit0: cannot execute binary file: Exec format error"
echo "no: a static 32-bit x86 program exits with status $rc (${out:-no message})"
exit 1
