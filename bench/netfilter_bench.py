"""Benchmark: parse + marking map of large iptables-save dumps, against a floor run in the same process.

The floor is the least any parser must do: read the file and split every line into tokens.
Each figure is the median of several runs (time.perf_counter); peak memory is measured in a
separate run under tracemalloc (so its overhead does not touch the timings).

    .venv/bin/python bench/netfilter_bench.py            # 10,000 and 100,000 rules
    .venv/bin/python bench/netfilter_bench.py 20000 --runs 3
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import statistics
import sys
import tempfile
import time
import tracemalloc

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "bench"))

from gen_iptables import generate  # noqa: E402

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map  # noqa: E402
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset  # noqa: E402


def floor(path: pathlib.Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(len(line.split()) for line in handle.read().split("\n"))


def ours(path: pathlib.Path) -> int:
    with open(path, encoding="utf-8") as handle:
        ruleset = parse_ruleset(handle.read(), str(path))
    return marking_map(ruleset).class_count


def timed(function, path: pathlib.Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        function(path)
        times.append(time.perf_counter() - start)
    return times


def peak(function, path: pathlib.Path) -> int:
    gc.collect()
    tracemalloc.start()
    function(path)
    _current, highest = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return highest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            path = pathlib.Path(folder) / ("dump-%d.rules" % size)
            path.write_text(generate(size))
            text = path.read_text()
            rules = sum(1 for line in text.split("\n") if line.startswith("-A"))
            mangle_writes = sum(1 for line in text.split("\n") if " TOS " in line or " DSCP " in line)
            file_bytes = path.stat().st_size
            ours(path)  # warm-up: imports, caches of the interpreter
            floor_times = timed(floor, path, args.runs)
            our_times = timed(ours, path, args.runs)
            classes = ours(path)
            floor_median = statistics.median(floor_times)
            our_median = statistics.median(our_times)
            ratios = [a / b for a, b in zip(our_times, floor_times)]
            our_peak = peak(ours, path)
            floor_peak = peak(floor, path)
            print("dump: %d rules (%d TOS/DSCP writes in mangle), %.1f MB, %d lines"
                  % (rules, mangle_writes, file_bytes / 1e6, text.count("\n")))
            print("  floor (read + split every line): median %.3f s (min %.3f, max %.3f)"
                  % (floor_median, min(floor_times), max(floor_times)))
            print("  parse + marking map:             median %.3f s (min %.3f, max %.3f), %d classes"
                  % (our_median, min(our_times), max(our_times), classes))
            print("  rules per second: %.0f (floor %.0f); ratio to floor: median %.2fx (min %.2f, max %.2f)"
                  % (rules / our_median, rules / floor_median, statistics.median(ratios), min(ratios), max(ratios)))
            print("  peak memory: %.1f MB = %.2fx the file (floor %.1f MB = %.2fx)"
                  % (our_peak / 1e6, our_peak / file_bytes, floor_peak / 1e6, floor_peak / file_bytes))


if __name__ == "__main__":
    main()
