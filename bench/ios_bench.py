#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: our IOS parse + fate tables versus hier_config loading the same file.

Generates a 50,000-line running-config (bench/gen_ios_config.py: 300
interfaces, 200 class-maps, 100 policy-maps, 20 route-maps, 10,000 ACL
entries), then times, in this one process, several repetitions of

  (a) parse_ios(text) + fate_tables(config): every interface, both directions
  (b) hier_config.get_hconfig(Platform.CISCO_IOS, text): the tree alone

and prints medians, the ratio, and peak Python memory of one run of each
(tracemalloc, measured separately so it does not slow the timed runs).
Runs alternate between (a) and (b), so a busy host slows both alike: the
ratio is the figure that travels between machines; the absolute target
(0.5 s) assumes a quiet one (where (b) takes about 0.8 s).

    .venv/bin/python bench/ios_bench.py            # print figures
    .venv/bin/python bench/ios_bench.py --check    # exit 1 unless (a) < 0.5 s and (a) < (b)
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "bench"))

from gen_ios_config import generate  # noqa: E402

from ansible_collections.diffserv.audit.plugins.module_utils.ios import fate_tables, parse_ios  # noqa: E402

TARGET_SECONDS = 0.5


def ours(text: str) -> tuple:
    config = parse_ios(text, "bench.cfg")
    return config, fate_tables(config)


def theirs(text: str):
    from hier_config import Platform, get_hconfig

    return get_hconfig(Platform.CISCO_IOS, text)


def timed(funcs, text: str, repeat: int) -> tuple[list[list[float]], list[list[float]]]:
    """Interleaved runs (a, b, a, b, ...): a busy host slows both sides alike.

    Returns wall-clock and process CPU times per function.
    """
    wall: list[list[float]] = [[] for _ in funcs]
    cpu: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for index, func in enumerate(funcs):
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            func(text)
            wall[index].append(time.perf_counter() - start)
            cpu[index].append(time.process_time() - start_cpu)
    return wall, cpu


def peak_memory(func, text: str) -> int:
    gc.collect()
    tracemalloc.start()
    result = func(text)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--lines", type=int, default=50000)
    parser.add_argument("--check", action="store_true", help="exit 1 unless the targets are met")
    parser.add_argument("--save", metavar="PATH", help="also write the generated configuration here")
    args = parser.parse_args(argv)

    text = generate(args.lines)
    if args.save:
        pathlib.Path(args.save).write_text(text)
    config, tables = ours(text)
    entries = sum(len(acl.entries) for acl in config.acls.values())
    paths = sum(len(table.paths) for table in tables)
    print("config: %d lines, %d interfaces, %d class-maps, %d policy-maps, %d route-maps, %d ACL entries in %d lists"
          % (config.line_count - 1, len(config.interfaces), len(config.class_maps), len(config.policy_maps),
             len(config.route_maps), entries, len(config.acls)))
    print("ours produces: %d fate tables, %d byte classes, %d paths, %d diagnostics"
          % (len(tables), sum(len(t.classes) for t in tables), paths, len(config.diagnostics)))
    print("python %s on %s, %d CPUs, load average %s" % (
        platform.python_version(), platform.machine(), os.cpu_count() or 0,
        " ".join("%.2f" % x for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"))

    (ours_times, theirs_times), (ours_cpu, theirs_cpu) = timed((ours, theirs), text, args.repeat)
    ours_median = statistics.median(ours_times)
    theirs_median = statistics.median(theirs_times)
    print("(a) parse_ios + fate_tables: median %.3f s  (min %.3f, max %.3f, %d runs)"
          % (ours_median, min(ours_times), max(ours_times), args.repeat))
    print("(b) hier_config get_hconfig: median %.3f s  (min %.3f, max %.3f, %d runs)"
          % (theirs_median, min(theirs_times), max(theirs_times), args.repeat))
    print("ratio (b)/(a): %.2fx (medians), %.2fx (minimums)" % (theirs_median / ours_median, min(theirs_times) / min(ours_times)))
    print("process CPU time, medians: (a) %.3f s, (b) %.3f s" % (statistics.median(ours_cpu), statistics.median(theirs_cpu)))
    print("peak memory (tracemalloc): ours %.1f MiB, hier_config %.1f MiB"
          % (peak_memory(ours, text) / 2**20, peak_memory(theirs, text) / 2**20))
    met = ours_median < TARGET_SECONDS and ours_median < theirs_median
    print("target (a) < %.1f s and faster than (b): %s" % (TARGET_SECONDS, "met" if met else "NOT met"))
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
