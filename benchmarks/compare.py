#!/usr/bin/env python3
"""Runs vmsock_bench and prints the vmsock/raw and asio/raw ratios per case.

    compare.py BUILD/benchmarks/vmsock_bench [--repetitions 10] [--runs 3]
               [--min-time 0.2] [--filter REGEX] [--keep DIR] [--markdown]
    compare.py --from-json run1.json run2.json ... [--markdown]

Each run is one process started with --benchmark_repetitions=N,
--benchmark_enable_random_interleaving=true (the repetitions of every case are
shuffled together, so a burst of load from elsewhere hits all variants alike)
and --benchmark_out=<json>.  Several runs (--runs) are pooled.

Per case (transport/workload/size) it prints, from wall-clock times:
  raw         the median time of one iteration of the raw-syscall variant
  vmsock/raw  median(vmsock) / median(raw) over every repetition of every run
  range       the lowest and highest of that ratio computed run by run
  asio/raw    the same for asio
  spread      (p75 - p25) / median of each variant's repetitions: the noise
  CPU         median(cpu_time) ratios: the measured thread's own CPU time,
              which waiting for a busy CPU does not inflate as it does wall time
Then, for the paired cases (TRANSPORT/WORKLOAD/SIZE/paired), the median over
repetitions of their vmsock_ratio, asio_ratio and raw2_ratio counters (raw2 is
a second raw connection: an A/A test of how far identical variants land
apart), with their quartiles and extremes.
A case whose vmsock/raw exceeds the goal (--goal, 1.03) is marked.
Exit code: 0, or 1 when a run failed or a case reported an error.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

VARIANTS = ("raw", "vmsock", "asio")


def run_binary(binary, repetitions, min_time, bench_filter, out_path):
    cmd = [
        binary,
        f"--benchmark_repetitions={repetitions}",
        "--benchmark_enable_random_interleaving=true",
        f"--benchmark_min_time={min_time}",
        "--benchmark_display_aggregates_only=true",
        f"--benchmark_out={out_path}",
        "--benchmark_out_format=json",
    ]
    if bench_filter:
        cmd.append(f"--benchmark_filter={bench_filter}")
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    # The console table goes to stderr so that stdout holds only the comparison.
    return subprocess.run(cmd, stdout=sys.stderr, check=False).returncode


def load(path):
    """{(case, variant): [real_time, ...]} plus the context of one JSON file."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    times, cpu, paired, errors = {}, {}, {}, []
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "iteration":
            continue  # aggregates: recomputed here over all runs
        name = re.sub(r"/(iterations:\d+|real_time)", "", b["run_name"])
        case, _, variant = name.rpartition("/")
        if b.get("error_occurred"):
            errors.append(f"{name}: {b.get('error_message', 'error')}")
            continue
        if variant == "paired":
            # One repetition of the paired layout: its medians over blocks.
            for key in ("vmsock_ratio", "asio_ratio", "raw2_ratio"):
                if key in b:
                    paired.setdefault((case, key), []).append(b[key])
            continue
        # Times are in each benchmark's own unit; normalise to microseconds.
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        times.setdefault((case, variant), []).append(b["real_time"] * scale)
        cpu.setdefault((case, variant), []).append(b["cpu_time"] * scale)
    return times, cpu, paired, errors, data.get("context", {})


def quantile(xs, q):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def spread(xs):
    m = statistics.median(xs)
    return (quantile(xs, 0.75) - quantile(xs, 0.25)) / m if m else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", help="the vmsock_bench binary")
    ap.add_argument("--repetitions", type=int, default=10)
    ap.add_argument("--runs", type=int, default=1, help="processes to start, one after the other")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repetition")
    ap.add_argument("--filter", default="", help="--benchmark_filter regex")
    ap.add_argument("--keep", metavar="DIR", help="keep the JSON files in DIR")
    ap.add_argument("--from-json", nargs="+", metavar="FILE", help="analyse earlier runs")
    ap.add_argument("--goal", type=float, default=1.03)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()

    failed = False
    files = list(args.from_json or [])
    if not files:
        if not args.binary:
            ap.error("give the vmsock_bench binary, or --from-json FILES")
        out_dir = args.keep or tempfile.mkdtemp(prefix="vmsock-bench-")
        os.makedirs(out_dir, exist_ok=True)
        for r in range(args.runs):
            path = os.path.join(out_dir, f"run{r + 1}.json")
            if run_binary(args.binary, args.repetitions, args.min_time, args.filter, path) != 0:
                print(f"compare.py: run {r + 1} failed", file=sys.stderr)
                failed = True
            if os.path.exists(path):
                files.append(path)
        if args.keep:
            print(f"compare.py: JSON kept in {out_dir}", file=sys.stderr)

    pooled, pooled_cpu, paired, per_run, errors, contexts = {}, {}, {}, [], [], []
    for path in files:
        times, cpu, pairs, errs, ctx = load(path)
        for key, xs in cpu.items():
            pooled_cpu.setdefault(key, []).extend(xs)
        for key, xs in pairs.items():
            paired.setdefault(key, []).extend(xs)
        per_run.append(times)
        errors += errs
        contexts.append(ctx)
        for key, xs in times.items():
            pooled.setdefault(key, []).extend(xs)
    loads = [ctx.get("load_avg") for ctx in contexts if ctx.get("load_avg")]
    if loads:
        print("load average (1, 5, 15 min) when each run started: "
              + "; ".join(", ".join(f"{x:.2f}" for x in l) for l in loads) + "\n")
    for ctx in contexts:
        if "NOT OPTIMIZED" in ctx.get("vmsock_bench_build", ""):
            print("compare.py: WARNING: the binary was not optimised; build Release", file=sys.stderr)
            break

    cases = sorted({case for case, _ in pooled}, key=lambda c: (c.split("/")[0], c.split("/")[1] != "pingpong", c))

    def ratio(times, case, variant):
        a, b = times.get((case, variant)), times.get((case, "raw"))
        if not a or not b:
            return None
        return statistics.median(a) / statistics.median(b)

    rows = []
    for case in cases:
        raw = pooled.get((case, "raw"))
        if not raw:
            continue
        row = {"case": case, "raw_us": statistics.median(raw), "n": len(raw)}
        for v in ("vmsock", "asio"):
            row[v] = ratio(pooled, case, v)
            rs = [x for x in (ratio(t, case, v) for t in per_run) if x is not None]
            row[v + "_range"] = (min(rs), max(rs)) if rs else None
            row[v + "_cpu"] = ratio(pooled_cpu, case, v)
        row["spread"] = {v: spread(pooled[(case, v)]) for v in VARIANTS if (case, v) in pooled}
        rows.append(row)

    def fmt_ratio(r):
        return "-" if r is None else f"{r:.3f}"

    def fmt_range(rg):
        return "" if rg is None else f"{rg[0]:.2f}-{rg[1]:.2f}"

    def fmt_spread(s):
        return "/".join(f"{100 * s[v]:.0f}%" if v in s else "-" for v in VARIANTS)

    over = [r["case"] for r in rows if r["vmsock"] is not None and r["vmsock"] > args.goal]
    if not rows:
        pass
    elif args.markdown:
        print("| case | raw (us) | vmsock/raw | per-run range | asio/raw | per-run range |"
              " IQR/median raw/vmsock/asio | vmsock/raw CPU | asio/raw CPU |")
        print("|---|---:|---:|---|---:|---|---|---:|---:|")
        for r in rows:
            mark = " **over**" if r["case"] in over else ""
            print(f"| {r['case']} | {r['raw_us']:.2f} | {fmt_ratio(r['vmsock'])}{mark} | "
                  f"{fmt_range(r['vmsock_range'])} | {fmt_ratio(r['asio'])} | {fmt_range(r['asio_range'])} | "
                  f"{fmt_spread(r['spread'])} | {fmt_ratio(r['vmsock_cpu'])} | {fmt_ratio(r['asio_cpu'])} |")
    else:
        print(f"{'case':<24} {'raw us':>9} {'vmsock/raw':>10} {'range':>10} {'asio/raw':>9} {'range':>10}"
              f"  {'IQR/median':<14} {'CPU vmsock/raw':>14} {'asio/raw':>8}")
        for r in rows:
            mark = "  <-- over" if r["case"] in over else ""
            print(f"{r['case']:<24} {r['raw_us']:>9.2f} {fmt_ratio(r['vmsock']):>10} "
                  f"{fmt_range(r['vmsock_range']):>10} {fmt_ratio(r['asio']):>9} "
                  f"{fmt_range(r['asio_range']):>10}  {fmt_spread(r['spread']):<14} "
                  f"{fmt_ratio(r['vmsock_cpu']):>14} {fmt_ratio(r['asio_cpu']):>8}{mark}")
    if rows:
        print(f"\n{len(files)} run(s), {rows[0]['n']} repetitions per variant pooled; ratios of medians"
              f" of wall-clock time per iteration (lower is faster; IQR/median of raw/vmsock/asio is the"
              f" noise; CPU: the same ratio of the measured thread's CPU time); goal vmsock/raw <= {args.goal}:"
              f" {'met on every case' if not over else 'over on ' + ', '.join(over)}")
    paired_cases = sorted({case for case, _ in paired},
                          key=lambda c: (c.split("/")[0], c.split("/")[1] != "pingpong", c))
    paired_over = []
    if paired_cases:
        def cell(key, case):
            xs = paired.get((case, key))
            if not xs:
                return "-", ""
            return (f"{statistics.median(xs):.3f}",
                    f"{quantile(xs, 0.25):.3f}-{quantile(xs, 0.75):.3f} ({min(xs):.2f}-{max(xs):.2f})")

        print("\nPaired layout (all variants' blocks back to back; per repetition the median over blocks"
              " of variant/raw time; here the median over repetitions, their quartiles and extremes):\n")
        if args.markdown:
            print("| case | vmsock/raw | p25-p75 (min-max) | asio/raw | p25-p75 (min-max) |"
                  " raw2/raw (A/A) | p25-p75 (min-max) |")
            print("|---|---:|---|---:|---|---:|---|")
        else:
            print(f"{'case':<24} {'vmsock/raw':>10} {'p25-p75 (min-max)':>25} {'asio/raw':>9}"
                  f" {'p25-p75 (min-max)':>25} {'raw2/raw':>9} {'p25-p75 (min-max)':>25}")
        for case in paired_cases:
            vm, vm_range = cell("vmsock_ratio", case)
            asi, asi_range = cell("asio_ratio", case)
            aa, aa_range = cell("raw2_ratio", case)
            over_goal = vm != "-" and float(vm) > args.goal
            if over_goal:
                paired_over.append(case)
            if args.markdown:
                print(f"| {case} | {vm}{' **over**' if over_goal else ''} | {vm_range} | {asi} | {asi_range} |"
                      f" {aa} | {aa_range} |")
            else:
                print(f"{case:<24} {vm:>10} {vm_range:>25} {asi:>9} {asi_range:>25} {aa:>9} {aa_range:>25}"
                      f"{'  <-- over' if over_goal else ''}")
        reps = len(paired[(paired_cases[0], "vmsock_ratio")])
        print(f"\n{reps} paired repetitions per case; goal vmsock/raw <= {args.goal}:"
              f" {'met on every case' if not paired_over else 'over on ' + ', '.join(paired_over)}")
    for e in errors:
        print(f"compare.py: error: {e}", file=sys.stderr)
    if not rows and not paired_cases:
        print("compare.py: no results", file=sys.stderr)
        return 1
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
