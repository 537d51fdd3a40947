"""Benchmark: placing the DSCP-clearing rule in a big dump, against re-parsing every candidate (the way before).

place_clear_rule tries the end of mangle POSTROUTING first, then each earlier position, and
proves each try with the marking map of the changed dump.  The baseline builds every candidate
as text and parses the whole dump again (what place_clear_rule did up to commit 42872e0); ours
parses the dump once and inserts the parsed rule into the parsed mangle table.  Both give the
same placement (checked here, and in tests/unit/.../remediation/test_iptables_candidates.py).

The dump is bench/gen_iptables.py's kube-proxy-like dump, with `--accepts` ACCEPT rules added at
the end of mangle POSTROUTING after its writes, so the rule cannot go last and `--accepts` + 1
positions are tried.  Two figures each, medians of `--runs` runs (time.perf_counter):

* candidates: building the candidate model of every position (re-parse vs insert), alone;
* end to end: place_clear_rule (before marking map, one marking map and one class expansion per try).

    .venv/bin/python bench/remediation_bench.py                       # 100,000 rules, 0.2% in mangle, 4 accepts
    .venv/bin/python bench/remediation_bench.py 20000 --mangle-share 0.05 --runs 3

Note: with the default mangle share of gen_iptables (5%), the end-to-end figure is dominated by
MarkingMap.leaving() expanding merged writer histories (netfilter/markmap.py), not by parsing.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import statistics
import sys
import time
import typing as t

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "bench"))

from gen_iptables import generate  # noqa: E402

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map  # noqa: E402
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset  # noqa: E402
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import iptables as ipt  # noqa: E402


def with_accepts(text: str, count: int) -> str:
    """The dump with `count` ACCEPT rules at the end of mangle POSTROUTING (after the jumps that write)."""
    lines = text.split("\n")
    start = lines.index("*mangle")
    commit = lines.index("COMMIT", start)
    accepts = ["-A POSTROUTING -o eth0 -p tcp -m tcp --dport %d -j ACCEPT" % (8000 + n) for n in range(count)]
    return "\n".join(lines[:commit] + accepts + lines[commit:])


def reference_placement(text: str, source: str, egress: str | None) -> ipt.ClearPlacement:
    """place_clear_rule as it was before: every candidate text parsed again from the start."""
    ruleset = ipt._ipv4(text, source)
    interfaces = [egress] if egress else []
    before = marking_map(ruleset, interfaces=interfaces)
    writers = sorted({line for marking in before.leaving(egress) if marking.path != "input"
                      for line in marking.writers})
    rule_lines, _last = ipt._mangle_postrouting_lines(ruleset)
    rule = ipt.clear_rule(egress)
    for index in range(len(rule_lines), -1, -1):
        candidate, after = ipt._with_rule(text, ruleset, index, rule)
        marks = marking_map(ipt._ipv4(candidate, source), interfaces=interfaces)
        if not ipt.still_marked(marks, egress):
            proof = ("marking map of the changed dump: all %d classes of packets leaving by %s leave with DSCP 0 "
                     "(%s backend, %s TOS semantics)" % (len(marks.leaving(egress)), egress,
                                                         marks.program.backend, marks.program.era))
            return ipt.ClearPlacement(egress, rule, index + 1, index == len(rule_lines), after, tuple(writers),
                                      candidate, proof)
    raise ipt.PlacementError("no position")


def reparse_candidates(text: str, ruleset: Ruleset, positions: int) -> int:
    rule = ipt.clear_rule("eth0")
    return sum(ipt._ipv4(ipt._with_rule(text, ruleset, index, rule)[0], "big.rules").rule_count
               for index in range(positions))


def model_candidates(text: str, ruleset: Ruleset, positions: int) -> int:
    candidates = ipt._Candidates(text, "big.rules", ruleset, ipt.clear_rule("eth0"))
    return sum(candidates.at(index).rule_count for index in range(positions))


def timed(function: t.Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def line(label: str, times: list[float]) -> str:
    return "  %-42s median %8.3f s (min %.3f, max %.3f)" % (label, statistics.median(times), min(times), max(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", type=int, default=100000)
    parser.add_argument("--mangle-share", type=float, default=0.002)
    parser.add_argument("--accepts", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    text = with_accepts(generate(args.size, mangle_share=args.mangle_share), args.accepts)
    ruleset = ipt._ipv4(text, "big.rules")
    rule_lines, _last = ipt._mangle_postrouting_lines(ruleset)
    positions = len(rule_lines) + 1
    mangle_rules = sum(len(rules) for rules in ruleset.tables["mangle"].parsed().values())
    print("dump: %d rules (%d in mangle, %d in POSTROUTING), %.1f MB, %d lines; %d positions possible"
          % (ruleset.rule_count, mangle_rules, len(rule_lines), len(text) / 1e6, text.count("\n"), positions))

    ours_placed = ipt.place_clear_rule(text, "big.rules", "eth0")  # warm-up, and the result both must give
    base_placed = reference_placement(text, "big.rules", "eth0")
    same = (ours_placed.position, ours_placed.after_line, ours_placed.writers, ours_placed.candidate) == (
        base_placed.position, base_placed.after_line, base_placed.writers, base_placed.candidate)
    tries = positions - ours_placed.position + 1
    print("placement: position %d after line %d (%d tries), same as the baseline: %s"
          % (ours_placed.position, ours_placed.after_line or 0, tries, same))
    if not same:
        raise SystemExit("the two placements differ")

    print("candidates of all %d positions:" % positions)
    base = timed(lambda: reparse_candidates(text, ruleset, positions), args.runs)
    ours = timed(lambda: model_candidates(text, ruleset, positions), args.runs)
    print(line("re-parse every candidate (before)", base))
    print(line("insert into the parsed dump (now)", ours))
    print("  ratio before/now: median %.1fx" % statistics.median(b / o for b, o in zip(base, ours)))

    print("place_clear_rule end to end (%d tries):" % tries)
    base = timed(lambda: reference_placement(text, "big.rules", "eth0"), args.runs)
    ours = timed(lambda: ipt.place_clear_rule(text, "big.rules", "eth0"), args.runs)
    print(line("before (re-parse per try)", base))
    print(line("now", ours))
    print("  ratio before/now: median %.2fx" % statistics.median(b / o for b, o in zip(base, ours)))


if __name__ == "__main__":
    main()
