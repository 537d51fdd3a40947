# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what the audit runs on one big IOS router, versus hier_config loading the same file.

Generates a 50,000-line running-config (bench/gen_ios_config.py: 1,000
interfaces, physical and dot1Q sub-interfaces, some shut; 200 class-maps,
100 policy-maps, 20 route-maps, 10,000 ACL entries), then times, in this
one process, several repetitions of

  (a) what the audit runs for a router with one link (analysis.py):
      parse_ios(text)
      + transit_tables(config, link): in on the linked interface, out on every other
      + interface_fate_tables(config): every interface, both directions, one table computed per kind of
        interface (the advisories' tables)
  (b) hier_config.get_hconfig(Platform.CISCO_IOS, text): the tree alone

and prints the medians of (a), of each of its three parts, and of (b), the
ratios, and peak Python memory of one run of each (tracemalloc, measured
separately so it does not slow the timed runs).  Runs alternate between (a)
and (b), so a busy host slows both alike: the ratio is the figure that
travels between machines; the absolute targets (transit tables < 0.4 s,
(a) faster than (b)) assume a quiet one.

    .venv/bin/python bench/ios_bench.py                       # print figures
    .venv/bin/python bench/ios_bench.py --interfaces 300      # the older, smaller router
    .venv/bin/python bench/ios_bench.py --check               # exit 1 unless the targets are met
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import platform
import statistics
import sys
import time
import tracemalloc
import typing as t

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "bench"))

from gen_ios_config import generate  # noqa: E402

from ansible_collections.diffserv.audit.plugins.module_utils.ios import parse_ios, transit_tables  # noqa: E402
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import interface_fate_tables  # noqa: E402

TRANSIT_TARGET_SECONDS = 0.4
PARTS = ("parse", "transit", "interface_tables")


def ours(text: str, link: str | None) -> dict[str, float]:
    """One audit's IOS work, each part timed (wall clock)."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    config = parse_ios(text, "bench.cfg")
    times["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    transit_tables(config, link or next(iter(config.interfaces)))
    times["transit"] = time.perf_counter() - start
    start = time.perf_counter()
    interface_fate_tables(config)
    times["interface_tables"] = time.perf_counter() - start
    return times


def theirs(text: str) -> t.Any:
    from hier_config import Platform, get_hconfig  # pylint: disable=import-outside-toplevel

    return get_hconfig(Platform.CISCO_IOS, text)


def timed(text: str, link: str | None, repeat: int) -> tuple[dict[str, list[float]], list[float], list[float], list[float]]:
    """Interleaved runs (a, b, a, b, ...): a busy host slows both sides alike.

    Returns (a)'s parts per run, (a)'s and (b)'s wall-clock times, and (a)'s process CPU times.
    """
    parts: dict[str, list[float]] = {name: [] for name in PARTS}
    wall_a: list[float] = []
    wall_b: list[float] = []
    cpu_a: list[float] = []
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        run = ours(text, link)
        wall_a.append(time.perf_counter() - start)
        cpu_a.append(time.process_time() - start_cpu)
        for name in PARTS:
            parts[name].append(run[name])
        gc.collect()
        start = time.perf_counter()
        theirs(text)
        wall_b.append(time.perf_counter() - start)
    return parts, wall_a, wall_b, cpu_a


def peak_memory(func: t.Callable[[], t.Any]) -> int:
    gc.collect()
    tracemalloc.start()
    result = func()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--lines", type=int, default=50000)
    parser.add_argument("--interfaces", type=int, default=1000)
    parser.add_argument("--link", help="the linked interface (default: the first one, with input ACL, policy and policy routing)")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the targets are met")
    parser.add_argument("--save", metavar="PATH", help="also write the generated configuration here")
    args = parser.parse_args(argv)

    text = generate(args.lines, interfaces=args.interfaces)
    if args.save:
        pathlib.Path(args.save).write_text(text)
    config = parse_ios(text, "bench.cfg")
    link = args.link or next(iter(config.interfaces))
    transit = transit_tables(config, link)
    rows = interface_fate_tables(config)
    tables = list({id(table): table for *_row, table in rows}.values())
    entries = sum(len(acl.entries) for acl in config.acls.values())
    print("config: %d lines, %d interfaces, %d class-maps, %d policy-maps, %d route-maps, %d ACL entries in %d lists"
          % (config.line_count - 1, len(config.interfaces), len(config.class_maps), len(config.policy_maps),
             len(config.route_maps), entries, len(config.acls)))
    print("ours produces: %d transit tables from %s (%d computed, the others share), %d interface tables (%d computed), "
          "%d byte classes in those, %d diagnostics" % (
              len(transit), link, len({id(table.classes) for table in transit}), len(rows), len(tables),
              sum(len(table.classes) for table in tables), len(config.diagnostics)))
    print("python %s on %s, %d CPUs, load average %s" % (
        platform.python_version(), platform.machine(), os.cpu_count() or 0,
        " ".join("%.2f" % x for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"))

    parts, wall_a, wall_b, cpu_a = timed(text, link, args.repeat)
    median_a, median_b = statistics.median(wall_a), statistics.median(wall_b)
    for name, label in zip(PARTS, ("parse_ios", "transit_tables", "interface_tables")):
        times = parts[name]
        print("    %-15s median %.3f s  (min %.3f, max %.3f)" % (label, statistics.median(times), min(times), max(times)))
    print("(a) audit: parse + transit + interface tables: median %.3f s  (min %.3f, max %.3f, %d runs)"
          % (median_a, min(wall_a), max(wall_a), args.repeat))
    print("(b) hier_config get_hconfig:                   median %.3f s  (min %.3f, max %.3f, %d runs)"
          % (median_b, min(wall_b), max(wall_b), args.repeat))
    print("ratio (b)/(a): %.2fx (medians), %.2fx (minimums)" % (median_b / median_a, min(wall_b) / min(wall_a)))
    print("ratio (b)/transit_tables: %.2fx (medians)" % (median_b / statistics.median(parts["transit"])))
    print("process CPU time of (a), median: %.3f s" % statistics.median(cpu_a))
    print("peak memory (tracemalloc): ours %.1f MiB, hier_config %.1f MiB"
          % (peak_memory(lambda: ours(text, link)) / 2**20, peak_memory(lambda: theirs(text)) / 2**20))
    transit_median = statistics.median(parts["transit"])
    met = transit_median < TRANSIT_TARGET_SECONDS and median_a < median_b
    print("target transit_tables < %.1f s and (a) faster than (b): %s" % (TRANSIT_TARGET_SECONDS, "met" if met else "NOT met"))
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
