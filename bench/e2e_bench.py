"""Benchmark: the audit end to end at real sizes, against the shipped example, in the same command.

Each case is one inventory of saved files with diffserv_links between firewall and router, audited
with `ansible-playbook diffserv.audit.audit` (change bundles on, the default), as is the example
(`-i inventories/example`, the baseline):

  example    the founding incident as shipped (37-line partner dump, 113-line border router)
  dump100k   a 100,000-rule iptables-save dump (bench/gen_iptables.py: kube-proxy nat/filter, 5% mangle)
             + the example border router without the anti-spoofing entries for 10/8 and 172.16/12,
             linked fw:eth0 -> GigabitEthernet0/0.   Target: < 1 s over the example
             (The dump's tenants mark from 10.x sources: behind the example's uplink ACL 110 those
             packets are dropped marked or not, and the exact join rightly reports no conflict, so
             nothing would be planned. Without those two entries the marked tenant traffic reaches
             the Null0 route: conflicts, and change bundles, as the case is meant to time.)
  router50k  the example partner dump + a 50,000-line IOS configuration with 1,000 interfaces
             (bench/gen_ios_config.py), whose GigabitEthernet0/0 carries the founding incident's policy
             (PBR of DSCP 1 to Null0, the NBAR class setting DSCP 1), so there is a conflict.
             Target: < 0.5 s over the example
  fleet1000  500 firewalls + 500 routers (bench/fleet_bench.py's generators), one link per pair.
             Target: < 30 s in all

For each case: the median wall time over --runs runs (runs interleave the cases, so a busy host
slows all alike), the difference to the example, that difference divided by a line-splitting
floor (this Python reading the case's files and splitting every line into words: the least any
parser must do; median of 5, timed in-process), the peak memory of the playbook's processes
(RUSAGE_CHILDREN of a fresh wrapper), the conflicts found and whether the bundles were written.
Then each case's median time per task (bench/callbacks/task_times.py, enabled for these runs
only: ansible.posix.profile_tasks is not installed here) and the split the analyze action
returns (hostvars / load = parse + marking maps / analyse = fate tables + join + advisories /
redact = redaction + findings.json / bundle = change bundles, where the action plans them).  The
first run of each case also reads every task's result, for those timings and for what failed
quietly (a task under ignore_errors, an ok result's `*_error` such as a change-bundle failure),
which it prints.  Reading results costs Ansible a copy of each for the plugin (seconds on
fleet1000's 18 MB of findings), so the other runs do not, and --runs 1 includes that cost.

    .venv/bin/python bench/e2e_bench.py                          # every case, 3 runs each
    .venv/bin/python bench/e2e_bench.py --cases dump100k,router50k --runs 1
    .venv/bin/python bench/e2e_bench.py --quick --runs 1         # smoke run: 10,000 rules, 5,000 lines, 20+20
    .venv/bin/python bench/e2e_bench.py --keep /tmp/e2e          # keep the inventories and reports there
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
EXAMPLE = ROOT / "inventories" / "example"
CALLBACKS = ROOT / "bench" / "callbacks"
sys.path.insert(0, str(ROOT / "bench"))

import fleet_bench  # noqa: E402
from gen_ios_config import generate as generate_ios  # noqa: E402
from gen_iptables import generate as generate_iptables  # noqa: E402

CASES = ("dump100k", "router50k", "fleet1000")
# Seconds over the example (dump100k, router50k) or in all (fleet1000).
TARGETS = {"dump100k": ("over", 1.0), "router50k": ("over", 0.5), "fleet1000": ("total", 30.0)}
SIZES = {False: {"rules": 100000, "lines": 50000, "interfaces": 1000, "pairs": 500},
         True: {"rules": 10000, "lines": 5000, "interfaces": 100, "pairs": 20}}

# The founding incident's router side, as inventories/example/files/border-router.cfg has it; the
# access list is 199 because the generated configuration already holds lists 100-174.
FOUNDING_DEFINITIONS = """class-map match-any http-hacks
 match protocol http url "*default.ida*"
 match protocol http url "*cmd.exe*"
!
policy-map mark-inbound-http-hacks
 class http-hacks
  set ip dscp 1
!
access-list 199 permit ip any any dscp 1
!
route-map null_policy_route permit 10
 match ip address 199
 set interface Null0
!
"""
FOUNDING_UPLINK = """interface GigabitEthernet0/0
 description Uplink to ISP AS64500 (Internet)
 ip address 203.0.113.2 255.255.255.252
 ip nbar protocol-discovery
 ip policy route-map null_policy_route
 service-policy input mark-inbound-http-hacks
!
"""


def big_router(lines: int, interfaces: int) -> str:
    """gen_ios_config's configuration with the founding incident's policy on GigabitEthernet0/0."""
    text = generate_ios(lines, interfaces=interfaces)
    uplink = re.compile(r"^interface GigabitEthernet0/0\n(?: .*\n)*!\n", re.M)
    if not uplink.search(text):
        raise SystemExit("the generated configuration has no GigabitEthernet0/0")
    text = uplink.sub(lambda _match: FOUNDING_UPLINK, text, count=1)
    first = text.index("\ninterface ") + 1
    return text[:first] + FOUNDING_DEFINITIONS + text[first:]


def write_inventory(folder: pathlib.Path, firewalls: dict[str, str], routers: dict[str, str],
                    links: list[dict[str, str]]) -> pathlib.Path:
    """host -> saved text for each side; the files beside the inventory, which lists them."""
    files = folder / "files"
    files.mkdir(parents=True)
    hosts: dict[str, dict] = {"linux_firewalls": {"hosts": {}}, "ios_routers": {"hosts": {}}}
    for group, texts, suffix in (("linux_firewalls", firewalls, "rules"), ("ios_routers", routers, "cfg")):
        for host, text in texts.items():
            path = files / ("%s.%s" % (host, suffix))
            path.write_text(text)
            hosts[group]["hosts"][host] = {"diffserv_config_file": str(path)}
    inventory = folder / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": hosts, "vars": {"diffserv_links": links}}}))
    return inventory


def build_case(name: str, folder: pathlib.Path, quick: bool) -> tuple[pathlib.Path, list[pathlib.Path], str]:
    """(inventory, the case's input files, a one-line description)."""
    sizes = SIZES[quick]
    partner = (EXAMPLE / "files" / "partner-fw.rules").read_text()
    border = (EXAMPLE / "files" / "border-router.cfg").read_text()
    link = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]
    if name == "example":
        files = sorted((EXAMPLE / "files").iterdir())
        return EXAMPLE, files, "the founding incident as shipped"
    if name == "dump100k":
        open_border = "".join(line for line in border.splitlines(True)
                              if not line.startswith(("access-list 110 deny   ip 10.0.0.0", "access-list 110 deny   ip 172.16.0.0")))
        if open_border == border:
            raise SystemExit("the example border router no longer holds the anti-spoofing entries this case removes")
        inventory = write_inventory(folder, {"fw": generate_iptables(sizes["rules"])}, {"rtr": open_border}, link)
        described = "%d-rule iptables dump + the example border router (10/8, 172.16/12 not spoof-filtered)" % sizes["rules"]
    elif name == "router50k":
        inventory = write_inventory(folder, {"fw": partner}, {"rtr": big_router(sizes["lines"], sizes["interfaces"])},
                                    link)
        described = "the example partner dump + %d-line IOS configuration, %d interfaces" % (
            sizes["lines"], sizes["interfaces"])
    elif name == "fleet1000":
        rng = random.Random(11)
        firewalls, routers, links = {}, {}, []
        for index in range(sizes["pairs"]):
            firewalls["fw%04d" % index] = fleet_bench.firewall(index, rng)
            routers["rtr%04d" % index] = fleet_bench.router(index, rng)
            links.append({"from": "fw%04d:eth0" % index, "to": "rtr%04d:GigabitEthernet0/0" % index})
        inventory = write_inventory(folder, firewalls, routers, links)
        described = "%d firewalls + %d routers, one link per pair" % (sizes["pairs"], sizes["pairs"])
    else:
        raise SystemExit("unknown case %r (known: %s)" % (name, ", ".join(CASES)))
    return inventory, sorted((folder / "files").iterdir()), described


def floor(files: list[pathlib.Path]) -> int:
    words = 0
    for path in files:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            words += sum(len(line.split()) for line in handle.read().split("\n"))
    return words


def floor_seconds(files: list[pathlib.Path], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        floor(files)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# Peak memory of the playbook: the children's maximum resident set, read in a fresh process so earlier
# runs do not count (RUSAGE_CHILDREN keeps the largest child ever waited for).
PROBE = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
         "p = subprocess.run(sys.argv[1:], capture_output=True); "
         "print(json.dumps({'seconds': time.perf_counter() - t, 'rc': p.returncode, "
         "'tail': (p.stdout[-3000:] + p.stderr[-3000:]).decode('utf-8', 'replace'), "
         "'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))")


def run_once(inventory: pathlib.Path, report: pathlib.Path, times_file: pathlib.Path, forks: int, detail: bool) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS=str(forks), ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
               ANSIBLE_CALLBACKS_ENABLED="task_times", DIFFSERV_BENCH_TASK_TIMES=str(times_file))
    if detail:
        env["DIFFSERV_BENCH_TASK_RESULTS"] = "1"
    command = [sys.executable, "-c", PROBE, str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(inventory),
               "-e", "diffserv_report_dir=%s" % report]
    result = json.loads(subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout)
    result["times"] = json.loads(times_file.read_text()) if times_file.exists() else {"tasks": [], "failures": []}
    findings_path = report / "findings.json"
    findings = json.loads(findings_path.read_text()) if findings_path.exists() else {}
    result["conflicts"] = len(findings.get("conflicts", []))
    result["errors"] = [str(e.get("reason", ""))[:300] for e in findings.get("errors", [])]
    summary = report / "changes" / "summary.json"
    result["bundles"] = (len(json.loads(summary.read_text()).get("strategies", {})) if summary.exists() else 0)
    result["written"] = sum(path.stat().st_size for path in report.rglob("*") if path.is_file())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, of %s" % ", ".join(CASES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--keep", metavar="DIR", help="build the cases and reports in DIR and keep them")
    args = parser.parse_args()
    wanted = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in CASES]
    if unknown:
        parser.error("unknown case(s) %s (known: %s)" % (", ".join(unknown), ", ".join(CASES)))
    names = ["example"] + wanted
    base = pathlib.Path(args.keep) if args.keep else pathlib.Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    try:
        base.mkdir(parents=True, exist_ok=True)
        cases = {}
        for name in names:
            if (base / name).exists():
                shutil.rmtree(base / name)
            cases[name] = build_case(name, base / name, args.quick)
        floors = {name: floor_seconds(files) for name, (_inventory, files, _described) in cases.items()}
        results: dict[str, list[dict]] = {name: [] for name in names}
        for run in range(args.runs):
            for name in names:
                report = base / ("report-%s-%d" % (name, run))
                if report.exists():
                    shutil.rmtree(report)
                outcome = run_once(cases[name][0], report, base / ("times-%s-%d.json" % (name, run)), args.forks,
                                   detail=run == 0)
                results[name].append(outcome)
                print("run %d %-10s %7.2f s rc %d" % (run + 1, name, outcome["seconds"], outcome["rc"]),
                      file=sys.stderr, flush=True)
        print_results(names, cases, floors, results, args)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def print_results(names, cases, floors, results, args) -> None:
    base = statistics.median(r["seconds"] for r in results["example"])
    print("python %s, %d CPUs, load average %s; %d run(s) a case%s; ansible-playbook diffserv.audit.audit, bundles on"
          % (sys.version.split()[0], os.cpu_count() or 0, " ".join("%.2f" % x for x in os.getloadavg()), args.runs,
             ", --quick sizes" if args.quick else ""))
    print("%-10s %9s %9s %9s %9s %10s %8s %9s %8s %10s  %s" % (
        "case", "input MB", "median s", "min s", "+ example", "floor s", "+ / floor", "peak MB", "conflicts",
        "bundles", "target"))
    for name in names:
        runs = results[name]
        seconds = [r["seconds"] for r in runs]
        median = statistics.median(seconds)
        size = sum(path.stat().st_size for path in cases[name][1])
        extra = median - base
        target = TARGETS.get(name)
        if target is None:
            verdict = "baseline"
        else:
            kind, limit = target
            value = extra if kind == "over" else median
            verdict = "%s %s < %.1f s" % ("met:" if value < limit else "NOT met:",
                                          "+%.2f" % value if kind == "over" else "%.2f" % value, limit)
        last = runs[-1]
        print("%-10s %9.2f %9.2f %9.2f %9s %10.4f %8s %9.0f %8d %10s  %s" % (
            name, size / 1e6, median, min(seconds), "-" if name == "example" else "%+.2f" % extra, floors[name],
            "-" if name == "example" else "%.0fx" % (extra / floors[name]), max(r["peak_kib"] for r in runs) / 1024,
            last["conflicts"], "%d written" % last["bundles"] if last["bundles"] else "none", verdict))
        print("%-10s %s" % ("", cases[name][2]))
        failed = [r for r in runs if r["rc"] != 0]
        if failed:
            print("%-10s ansible-playbook exited %d; its output ends:\n%s" % ("", failed[-1]["rc"], failed[-1]["tail"]))
        for error in last["errors"][:3]:
            print("%-10s error in findings: %s" % ("", error.replace("\n", " | ")))
        for failure in [f for r in runs for f in r["times"].get("failures", [])][:2]:
            print("%-10s task failed: %s: %s\n%s" % ("", failure["task"], failure["msg"][:500], failure["exception"]))
    print("\nPer task, median seconds (bench/callbacks/task_times.py: start of a task to the start of the next)")
    tasks: list[str] = []
    for name in names:
        for row in results[name][0]["times"]["tasks"]:
            if row["task"] not in tasks:
                tasks.append(row["task"])
    print("  %-62s" % "task" + "".join("%11s" % name for name in names))
    rows = [("start-up (configuration read -> first task)", lambda t: t.get("startup"))]
    rows += [(task, lambda t, task=task: sum(r["seconds"] for r in t["tasks"] if r["task"] == task) or None)
             for task in tasks]
    rows.append(("outside the playbook (interpreter start, imports, exit)", None))
    for label, pick in rows:
        cells = []
        for name in names:
            if pick is None:
                values = [r["seconds"] - r["times"].get("total", 0) for r in results[name] if r["times"].get("total")]
            else:
                values = [v for v in (pick(r["times"]) for r in results[name]) if v is not None]
            cells.append("%11.3f" % statistics.median(values) if values else "%11s" % "-")
        print("  %-62s" % label.replace("diffserv.audit.audit : ", "")[:62] + "".join(cells))
    print("\nInside the analyze action (its `timings`), median seconds")
    keys: list[str] = []
    for name in names:
        for timings in results[name][0]["times"].get("timings", {}).values():
            keys.extend(key for key in timings if key not in keys)
    print("  %-62s" % "timing" + "".join("%11s" % name for name in names))
    for key in keys:
        cells = []
        for name in names:
            values = [timings[key] for r in results[name] for timings in r["times"].get("timings", {}).values()
                      if key in timings]
            cells.append("%11.3f" % statistics.median(values) if values else "%11s" % "-")
        print("  %-62s" % key + "".join(cells))


if __name__ == "__main__":
    main()
