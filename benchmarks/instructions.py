#!/usr/bin/env python3
"""User-space instructions per iteration of each vmsock_bench case, by callgrind.

    instructions.py BUILD/benchmarks/vmsock_bench [--filter REGEX] [--n1 1000] [--n2 2000]

Wall-clock ratios on a shared machine are noisy; instruction counts are not.
Each case runs twice under `valgrind --tool=callgrind --separate-threads=yes`
with VMSOCK_BENCH_ITERATIONS fixed at n1 and at n2.  The measured side runs on
the main thread, so (Ir(main, n2) - Ir(main, n1)) / (n2 - n1) is what one
iteration costs it in user space, set-up and the benchmark harness cancelled
out.  The kernel's share (the system calls themselves) is not counted: these
figures say where a variant spends extra instructions, the timed runs of
compare.py say whether that shows.
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile


def list_cases(binary, bench_filter):
    out = subprocess.run([binary, "--benchmark_list_tests=true", f"--benchmark_filter={bench_filter}"],
                         capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.split():
        name = re.sub(r"/(iterations:\d+|real_time)", "", line)
        if name not in names:
            names.append(name)
    return names


def main_thread_ir(binary, name, iterations, work):
    prefix = os.path.join(work, f"cg.{iterations}")
    for f in glob.glob(prefix + ".*"):
        os.remove(f)
    env = dict(os.environ, VMSOCK_BENCH_ITERATIONS=str(iterations))
    cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
           f"--callgrind-out-file={prefix}.%p", binary, f"--benchmark_filter=^{re.escape(name)}/"]
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    files = glob.glob(prefix + ".*-01")  # thread 1: the main thread, the measured side
    if len(files) != 1:
        raise RuntimeError(f"expected one main-thread profile for {name}, found {files}")
    with open(files[0], encoding="utf-8") as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {files[0]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--filter", default=".")
    ap.add_argument("--n1", type=int, default=1000)
    ap.add_argument("--n2", type=int, default=2000)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    per = {}
    with tempfile.TemporaryDirectory(prefix="vmsock-callgrind-") as work:
        for name in list_cases(args.binary, args.filter):
            a = main_thread_ir(args.binary, name, args.n1, work)
            b = main_thread_ir(args.binary, name, args.n2, work)
            case, _, variant = name.rpartition("/")
            per.setdefault(case, {})[variant] = (b - a) / (args.n2 - args.n1)
            print(f"{name}: {per[case][variant]:.1f} instructions per iteration", file=sys.stderr, flush=True)

    def cell(d, v):
        return f"{d[v]:.0f}" if v in d else "-"

    def extra(d, v):
        return f"{d[v] - d['raw']:+.0f}" if v in d and "raw" in d else "-"

    if args.markdown:
        print("| case | raw | vmsock | asio | vmsock - raw | asio - raw |")
        print("|---|---:|---:|---:|---:|---:|")
        for case, d in per.items():
            print(f"| {case} | {cell(d, 'raw')} | {cell(d, 'vmsock')} | {cell(d, 'asio')} | "
                  f"{extra(d, 'vmsock')} | {extra(d, 'asio')} |")
    else:
        print(f"{'case':<24} {'raw':>7} {'vmsock':>7} {'asio':>7} {'vmsock-raw':>11} {'asio-raw':>9}")
        for case, d in per.items():
            print(f"{case:<24} {cell(d, 'raw'):>7} {cell(d, 'vmsock'):>7} {cell(d, 'asio'):>7} "
                  f"{extra(d, 'vmsock'):>11} {extra(d, 'asio'):>9}")
    print(f"\nuser-space instructions per iteration on the measured thread (callgrind,"
          f" iterations {args.n2} minus {args.n1})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
