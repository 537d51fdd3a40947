"""Benchmark: huge input lines, end to end. Memory and output must stay linear in the input.

Three inventories, each the founding incident (partner dump + border router, one link), audited with
`ansible-playbook diffserv.audit.audit` (bundles on, the default) in the same command:

  example    the founding incident as shipped: the baseline
  comment    the partner dump with one valid 50 MiB `-m comment` on the conflicting rule (line 35)
  garbage    the partner dump with one 50 MiB line of garbage in the mangle table (refused)

For each: median wall time, the difference to the baseline, the peak memory of the playbook's
processes, and the bytes written (every report and bundle file, and the console).  The comment
case still finds the conflict; the garbage case is refused with file:line.

    .venv/bin/python bench/bounded_bench.py              # 50 MiB, 3 runs each
    .venv/bin/python bench/bounded_bench.py --mib 5 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
EXAMPLE = ROOT / "inventories" / "example" / "files"
CONFLICTING = "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04"


def write_case(folder: pathlib.Path, name: str, mib: int) -> pathlib.Path:
    text = (EXAMPLE / "partner-fw.rules").read_text()
    size = mib * 1024 * 1024
    if name == "comment":
        text = text.replace(CONFLICTING, CONFLICTING.replace(" -j TOS", ' -m comment --comment "%s" -j TOS' % ("c" * size)))
    elif name == "garbage":
        text = text.replace(CONFLICTING, CONFLICTING + "\n" + "\x7f#%&" * (size // 4))
    rules = folder / ("%s.rules" % name)
    rules.write_text(text)
    inventory = {"all": {"vars": {"diffserv_links": [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]},
                         "children": {"linux_firewalls": {"hosts": {"fw": {"diffserv_config_file": str(rules)}}},
                                      "ios_routers": {"hosts": {"rtr": {
                                          "diffserv_config_file": str(EXAMPLE / "border-router.cfg")}}}}}}
    path = folder / ("%s.yml" % name)
    path.write_text(yaml.safe_dump(inventory))
    return path


def run_once(inventory: pathlib.Path, report: pathlib.Path) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_NOCOLOR="1")
    # Peak memory of the playbook: the children's maximum resident set, read in a fresh process so
    # earlier runs do not count (RUSAGE_CHILDREN keeps the largest child ever waited for).
    probe = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
             "p = subprocess.run(sys.argv[1:], capture_output=True); "
             "print(json.dumps({'seconds': time.perf_counter() - t, 'rc': p.returncode, 'console': len(p.stdout) + len(p.stderr), "
             "'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))")
    command = [sys.executable, "-c", probe, str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(inventory),
               "-e", "diffserv_report_dir=%s" % report]
    result = json.loads(subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout)
    written = sum(path.stat().st_size for path in report.rglob("*") if path.is_file())
    findings = json.loads((report / "findings.json").read_text()) if (report / "findings.json").exists() else {}
    result.update(written=written, conflicts=len(findings.get("conflicts", [])),
                  errors=[e["reason"][:160] for e in findings.get("errors", [])],
                  largest=max(((p.stat().st_size, p.name) for p in report.rglob("*") if p.is_file()), default=(0, "")))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        cases = {name: write_case(folder, name, args.mib) for name in ("example", "comment", "garbage")}
        input_size = {name: (folder / ("%s.rules" % name)).stat().st_size for name in cases}
        results: dict[str, list[dict]] = {name: [] for name in cases}
        for run in range(args.runs):
            for name, inventory in cases.items():
                report = folder / ("report-%s-%d" % (name, run))
                results[name].append(run_once(inventory, report))
        base = statistics.median(r["seconds"] for r in results["example"])
        print("%-8s %12s %10s %10s %12s %12s %12s %10s" % ("case", "input MB", "median s", "+ base s", "peak MB",
                                                            "written MB", "console KB", "conflicts"))
        for name, runs in results.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            last = runs[-1]
            print("%-8s %12.1f %10.2f %10.2f %12.0f %12.2f %12.1f %10d" % (
                name, input_size[name] / 1e6, seconds, seconds - base, max(r["peak_kib"] for r in runs) / 1024,
                last["written"] / 1e6, last["console"] / 1e3, last["conflicts"]))
            if last["errors"]:
                print("         error: %s" % last["errors"][0].replace("\n", " | "))
            print("         largest file: %s (%.2f MB)" % (last["largest"][1], last["largest"][0] / 1e6))
        print("\n(ratios) comment/example time %.1fx, peak memory / input %.1fx" % (
            statistics.median(r["seconds"] for r in results["comment"]) / base,
            max(r["peak_kib"] for r in results["comment"]) * 1024 / input_size["comment"]))


if __name__ == "__main__":
    main()
