"""Benchmark: the live audit of a lab fleet (default 50 simulated IOS routers + 10 real firewalls)
by ``ansible-playbook diffserv.audit.audit``, next to the floor of one raw ``ssh host cmd`` a device.

The lab (``lab.Lab(firewalls=10, routers=50, router_privilege=15)``) gives every router a login at
privilege 15, so a raw SSH exec request may run ``show running-config``; the firewalls are network
namespaces with a real sshd and ``sudo -n iptables-save`` allowed. Everything runs on this machine:
the devices (50 simulator processes, 10 sshd) share its cores with the controller.

Timed in the same command, runs interleaved, same parallelism P (default 20) everywhere:

    ssh            subprocess ``ssh -i key -o UserKnownHostsFile=... user@host -p port CMD`` per
                   device from a pool of P threads; CMD ``show running-config`` (routers) or
                   ``sudo -n iptables-save`` (firewalls): the floor a shell script pays
    netmiko        the collection's own collectors (``plugin_utils/session.py`` ``collect_live``, what
                   the collect action calls) in a pool of P threads, in this process: no Ansible
    netmiko tuned  what-if: netmiko directly with ``fast_cli=True`` (netmiko's default; session.py
                   turns it off) and no per-command ``find_prompt`` (whose fixed sleep is 0.25 s,
                   longer without fast_cli), one command a device like the ssh row: what the
                   collection's sessions could cost
    ansible no-op  ``ansible-playbook``: one ``ansible.builtin.debug`` task on every device (forks P):
                   what Ansible itself costs a host
    collect/host   ``ansible-playbook``: ``diffserv.audit.collect`` as one task a host (forks P)
    collect/batch  ``ansible-playbook``: one ``diffserv.audit.collect`` batch action on localhost for
                   the whole fleet (``workers: P``), the way the audit playbook collects
    audit          ``ansible-playbook diffserv.audit.audit -i <lab inventory>`` with links (each
                   router's GigabitEthernet0/0 to one firewall's eth0) and a report folder

Printed: median wall time (and minimum), the cost a device (wall / devices), the ratio to ssh,
controller CPU (this process's threads, or the ansible-playbook process tree) and the CPU the lab's
devices burnt meanwhile; then where the audit's time goes (a tiny callback plugin timestamps each
task; the analyze action's own timings) and, one device at a time, the phases of a session (raw ssh
against netmiko's connect with session preparation, command, close).

    .venv/bin/python bench/fleet_lab_bench.py                      # 50 routers + 10 firewalls, 3 runs
    .venv/bin/python bench/fleet_lab_bench.py --routers 8 --firewalls 2 --runs 1

Needs root (the lab's firewalls); ~3 minutes with the defaults on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / ".collections"))

from netmiko import ConnectHandler  # noqa: E402

from lab import Lab  # noqa: E402
from ansible_collections.diffserv.audit.plugins.module_utils import platforms  # noqa: E402
from ansible_collections.diffserv.audit.plugins.plugin_utils import session  # noqa: E402

ROUTER_CMD = "show running-config"
FIREWALL_CMD = "sudo -n iptables-save"
GOAL = 1.5

# A callback that only timestamps: playbook start, each task start, each result of the analyze
# action (its own `timings`), the stats. Written to $FLEET_LAB_BENCH_OUT at the end.
TIMER_CALLBACK = '''
from __future__ import annotations
import json, os, time
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleet_lab_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events = []
        self.analyze = None

    def v2_playbook_on_start(self, playbook):
        self.events.append([time.time(), "start", ""])

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.events.append([time.time(), "task", task.get_name()])

    def v2_playbook_on_handler_task_start(self, task):
        self.events.append([time.time(), "task", task.get_name()])

    def v2_runner_on_ok(self, result):
        timings = result._result.get("timings")
        if isinstance(timings, dict) and "analyse_seconds" in timings:
            self.analyze = timings

    def v2_playbook_on_stats(self, stats):
        self.events.append([time.time(), "stats", ""])
        path = os.environ.get("FLEET_LAB_BENCH_OUT")
        if path:
            with open(path, "w") as fh:
                json.dump({"events": self.events, "analyze": self.analyze}, fh)
'''

NOOP = """---
- name: Every device, no work
  hosts: linux_firewalls:ios_routers
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }}"
"""

COLLECT_PER_HOST = """---
- name: Collect only, one task a host
  hosts: linux_firewalls:ios_routers
  gather_facts: false
  tasks:
    - name: Collect this host
      diffserv.audit.collect:
      register: diffserv_collect
"""

COLLECT_BATCH = """---
- name: Collect only, the fleet in one batch action
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Collect every firewall and router
      diffserv.audit.collect:
        hosts: "{{ groups['linux_firewalls'] + groups['ios_routers'] }}"
        workers: %d
      register: diffserv_collect
    - name: Every device collected
      ansible.builtin.assert:
        that: diffserv_collect.failed_hosts | length == 0
        quiet: true
"""


# --------------------------------------------------------------------------- devices


def devices(lab: Lab) -> list[dict[str, Any]]:
    out = []
    for r in lab.routers:
        out.append({"name": r.name, "kind": "router", "host": r.host, "port": r.port, "user": r.username,
                    "password": r.password, "secret": r.enable_secret, "cmd": ROUTER_CMD})
    for f in lab.firewalls:
        out.append({"name": f.name, "kind": "firewall", "host": f.host, "port": f.port, "user": f.user,
                    "password": f.password, "secret": f.password, "cmd": FIREWALL_CMD})
    return out


def device_cpu(lab: Lab) -> float:
    """CPU seconds the lab's devices have used: simulator processes, and each firewall sshd's reaped
    children (a session, its shell, sudo, iptables-save)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [(r.pid, (14, 15)) for r in lab.routers] + [(f.sshd_pid, (14, 15, 16, 17)) for f in lab.firewalls]
    for pid, fields in pids:
        try:
            stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parts = stat[stat.rindex(")") + 2:].split()  # proc(5) fields from 3 (state) on
        total += sum(int(parts[field - 3]) for field in fields)  # utime, stime[, cutime, cstime]
    return total / tick


def ssh_argv(lab: Lab, d: dict[str, Any]) -> list[str]:
    return ["ssh", "-i", str(lab.client_key_path), "-o", f"UserKnownHostsFile={lab.known_hosts_path}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "ControlMaster=no", "-o", "ControlPath=none", "-p", str(d["port"]), f"{d['user']}@{d['host']}",
            d["cmd"]]


def via_ssh(lab: Lab, d: dict[str, Any]) -> str:
    proc = subprocess.run(ssh_argv(lab, d), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"ssh {d['name']}: rc {proc.returncode}: {proc.stderr.strip()[:300]}")
    return proc.stdout


def target(lab: Lab, d: dict[str, Any]) -> session.Target:
    """What the collect action builds from the lab inventory's variables for this device."""
    return session.Target(host=d["host"], port=d["port"], username=d["user"], password=d["password"],
                          key_file=str(lab.client_key_path), become_password=d["secret"], host_key_checking=True,
                          known_hosts=str(lab.known_hosts_path), timeout=30.0, retries=2)


def via_netmiko(lab: Lab, d: dict[str, Any]) -> str:
    collected = session.collect_live(platforms.driver("ios" if d["kind"] == "router" else "iptables"), target(lab, d))
    return collected[0].text


def via_netmiko_tuned(lab: Lab, d: dict[str, Any]) -> str:
    """What-if: netmiko as session.py drives it but with netmiko's default ``fast_cli=True`` and no
    ``find_prompt`` before the command (an anchored expect string on the prompt found at log-in
    instead); one command a device, as the ssh row."""
    conn = ConnectHandler(device_type="cisco_ios" if d["kind"] == "router" else "linux", host=d["host"], port=d["port"],
                          username=d["user"], password=d["password"], secret=d["secret"], use_keys=True,
                          key_file=str(lab.client_key_path), ssh_strict=True, system_host_keys=True, alt_host_keys=True,
                          alt_key_file=str(lab.known_hosts_path), conn_timeout=30, fast_cli=True)
    try:
        prompt = re.escape(conn.base_prompt) + r"[>#$]\s*$"
        return conn.send_command(d["cmd"] + ("" if d["kind"] == "router" else " 2>&1"), read_timeout=30,
                                 cmd_verify=False, auto_find_prompt=False, expect_string=prompt)
    finally:
        conn.disconnect()


def check_text(d: dict[str, Any], text: str) -> None:
    needle = "hostname " if d["kind"] == "router" else "*mangle"
    if needle not in text:
        raise RuntimeError(f"{d['name']}: output without {needle!r}: {text[:200]!r}")


def pool_run(fn: Callable[[Lab, dict[str, Any]], str], lab: Lab, devs: list[dict[str, Any]], workers: int) -> dict[str, float]:
    cpu0, child0, dev0 = time.process_time(), _children_cpu(), device_cpu(lab)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        texts = list(pool.map(lambda d: fn(lab, d), devs))
    wall = time.perf_counter() - start
    for d, text in zip(devs, texts):
        check_text(d, text)
    return {"wall": wall, "cpu": time.process_time() - cpu0 + _children_cpu() - child0, "device_cpu": device_cpu(lab) - dev0}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# --------------------------------------------------------------------------- ansible-playbook


class Playbooks:
    def __init__(self, lab: Lab, folder: pathlib.Path, forks: int, workers: int) -> None:
        self.lab, self.folder = lab, folder
        (folder / "callbacks").mkdir()
        (folder / "callbacks" / "fleet_lab_timer.py").write_text(TIMER_CALLBACK)
        (folder / "noop.yml").write_text(NOOP)
        (folder / "collect_host.yml").write_text(COLLECT_PER_HOST)
        (folder / "collect_batch.yml").write_text(COLLECT_BATCH % workers)
        self.links = []
        for j, r in enumerate(lab.routers):
            fw = lab.firewalls[j % len(lab.firewalls)].name if lab.firewalls else None
            if fw:
                self.links.append({"from": f"{fw}:eth0", "to": f"{r.name}:GigabitEthernet0/0"})
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_FORKS=str(forks),
                        ANSIBLE_CALLBACK_PLUGINS=str(folder / "callbacks"), ANSIBLE_CALLBACKS_ENABLED="fleet_lab_timer")
        self.inventory = str(lab.inventory_path)
        self.report_sizes: tuple[int, int, Any] | None = None

    def argv(self, name: str) -> list[str]:
        ap = str(BIN / "ansible-playbook")
        if name == "audit":
            extra = {"diffserv_links": self.links, "diffserv_report_dir": str(self.folder / "report")}
            return [ap, "diffserv.audit.audit", "-i", self.inventory, "-e", json.dumps(extra)]
        return [ap, "-i", self.inventory, str(self.folder / f"{name}.yml")]

    def run(self, name: str) -> dict[str, Any]:
        out = self.folder / f"{name}.timer.json"
        out.unlink(missing_ok=True)
        env = dict(self.env, FLEET_LAB_BENCH_OUT=str(out))
        child0, dev0 = _children_cpu(), device_cpu(self.lab)
        spawned = time.time()
        start = time.perf_counter()
        done = subprocess.run(self.argv(name), cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
        ended = time.time()
        if done.returncode != 0:
            sys.exit(f"{name} failed (rc {done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}")
        if name == "audit":
            text = (self.folder / "report" / "findings.json").read_text()
            findings = json.loads(text)
            self.report_sizes = (len(text), (self.folder / "report" / "report.md").stat().st_size,
                                 findings["summary"].get("conflicts"))
            summary = findings["summary"]
            if findings["errors"] or len(summary["firewalls"]) != len(self.lab.firewalls) or \
                    len(summary["routers"]) != len(self.lab.routers):
                sys.exit(f"audit incomplete: errors {findings['errors'][:3]}, summary {summary}")
        timer = json.loads(out.read_text()) if out.exists() else {"events": [], "analyze": None}
        return {"wall": wall, "cpu": _children_cpu() - child0, "device_cpu": device_cpu(self.lab) - dev0,
                "spawned": spawned, "ended": ended, "timer": timer}


def breakdown(result: dict[str, Any]) -> list[tuple[str, float]]:
    """(part, seconds) of one ansible-playbook run from the timer callback's events."""
    events = result["timer"]["events"]
    if not events:
        return []
    parts = [("start-up (interpreter, imports, inventory, playbook and plugins loaded)", events[0][0] - result["spawned"])]
    tasks = [e for e in events if e[1] in ("task", "stats")]
    if tasks:
        parts.append(("play set-up before the first task", tasks[0][0] - events[0][0]))
    for here, after in zip(tasks, tasks[1:]):
        parts.append((f"task: {here[2]}", after[0] - here[0]))
    parts.append(("after the last task (stats, exit)", result["ended"] - events[-1][0]))
    return parts


# --------------------------------------------------------------------------- phases, one device at a time


def phases(lab: Lab, devs: list[dict[str, Any]], samples: int) -> dict[str, dict[str, float]]:
    """Medians (ms) per device kind: raw ssh, and netmiko's connect (+ session preparation), command, close."""
    out: dict[str, dict[str, list[float]]] = {}
    for kind in ("router", "firewall"):
        chosen = [d for d in devs if d["kind"] == kind][:samples]
        figures: dict[str, list[float]] = {"ssh": [], "connect": [], "command": [], "close": [], "netmiko": [], "tuned": []}
        for d in chosen:
            t0 = time.perf_counter()
            check_text(d, via_ssh(lab, d))
            figures["ssh"].append(time.perf_counter() - t0)
            tgt = target(lab, d)
            t0 = time.perf_counter()
            conn = session._connect(tgt, "cisco_ios" if kind == "router" else "linux")
            t1 = time.perf_counter()
            if kind == "router":
                text = session._run(conn, ROUTER_CMD, tgt)
            else:
                text = session._linux_privileged(conn, "iptables-save", tgt)
            t2 = time.perf_counter()
            session._close(conn, False)
            t3 = time.perf_counter()
            check_text(d, text)
            figures["connect"].append(t1 - t0)
            figures["command"].append(t2 - t1)
            figures["close"].append(t3 - t2)
            t0 = time.perf_counter()
            check_text(d, via_netmiko(lab, d))
            figures["netmiko"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            check_text(d, via_netmiko_tuned(lab, d))
            figures["tuned"].append(time.perf_counter() - t0)
        if chosen:
            out[kind] = {k: statistics.median(v) * 1000 for k, v in figures.items()}
    return out


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routers", type=int, default=50)
    parser.add_argument("--firewalls", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=20, help="ssh/netmiko threads, collect workers, ansible forks")
    parser.add_argument("--phase-samples", type=int, default=5, help="devices of each kind timed one at a time")
    parser.add_argument("--only", default="", help="comma-separated methods (ssh,netmiko,netmiko_tuned,noop,collect_host,collect_batch,audit)")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: the lab's firewalls are network namespaces with their own sshd")
    methods = ["ssh", "netmiko", "netmiko_tuned", "noop", "collect_host", "collect_batch", "audit"]
    if opts.only:
        methods = [m for m in methods if m in opts.only.split(",")]
    labels = {"ssh": "ssh host cmd (raw)", "netmiko": "netmiko, session.py", "netmiko_tuned": "netmiko tuned (what-if)", "noop": "ansible no-op a host",
              "collect_host": "collect, a task a host", "collect_batch": "collect, batch action", "audit": "audit playbook"}
    how = {"ssh": f"{opts.parallel} threads", "netmiko": f"{opts.parallel} threads",
           "netmiko_tuned": f"{opts.parallel} threads", "noop": f"forks {opts.parallel}",
           "collect_host": f"forks {opts.parallel}", "collect_batch": f"workers {opts.parallel}", "audit": f"workers {opts.parallel}"}

    with Lab(firewalls=opts.firewalls, routers=opts.routers, router_privilege=15) as lab, \
            tempfile.TemporaryDirectory(prefix="fleet-lab-bench-") as tmp:
        devs = devices(lab)
        n = len(devs)
        books = Playbooks(lab, pathlib.Path(tmp), opts.parallel, opts.parallel)
        print(f"lab: {opts.routers} routers + {opts.firewalls} firewalls up in {lab.timings['up']:.1f} s; "
              f"{n} devices, parallelism {opts.parallel}, {opts.runs} run(s) interleaved; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f} before")
        print(f"per device: routers `{ROUTER_CMD}` ({len(lab.routers[0].running_config()) if lab.routers else 0} bytes), "
              f"firewalls `{FIREWALL_CMD}`" + (" (the collection also probes for and runs ip6tables-save)" if lab.firewalls else ""))
        # Warm-up: page caches, sshd and simulator first-connection paths, Python bytecode.
        pool_run(via_ssh, lab, devs, opts.parallel)
        pool_run(via_netmiko, lab, devs[: opts.parallel], opts.parallel)
        results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for run in range(opts.runs):
            for m in methods:
                if m == "ssh":
                    results[m].append(pool_run(via_ssh, lab, devs, opts.parallel))
                elif m == "netmiko":
                    results[m].append(pool_run(via_netmiko, lab, devs, opts.parallel))
                elif m == "netmiko_tuned":
                    results[m].append(pool_run(via_netmiko_tuned, lab, devs, opts.parallel))
                else:
                    results[m].append(books.run(m))
                print(f"  run {run + 1}: {m:<14} {results[m][-1]['wall']:6.2f} s", file=sys.stderr, flush=True)

        def med(m: str, key: str) -> float:
            return statistics.median(r[key] for r in results[m])

        floor = med("ssh", "wall") / n if "ssh" in results else None
        print(f"\n{'method':<26}{'how':<12}{'wall s':>8}{'(min)':>8}{'ms/device':>11}{'x ssh':>7}{'ctrl CPU s':>12}{'dev CPU s':>11}")
        for m in methods:
            wall, lo = med(m, "wall"), min(r["wall"] for r in results[m])
            ratio = f"{wall / n / floor:7.2f}" if floor else f"{'-':>7}"
            print(f"{labels[m]:<26}{how[m]:<12}{wall:8.2f}{lo:8.2f}{wall / n * 1000:11.1f}{ratio}"
                  f"{med(m, 'cpu'):12.2f}{med(m, 'device_cpu'):11.2f}")
        if floor and "audit" in results:
            ratio = med("audit", "wall") / n / floor
            print(f"\naudit / raw ssh, per device: {ratio:.2f}x (goal: within {GOAL}x) -> "
                  + ("met" if ratio <= GOAL else "NOT met"))
        for m in ("collect_batch", "audit"):
            if m not in results:
                continue
            runs = sorted(results[m], key=lambda r: r["wall"])
            mid = runs[len(runs) // 2]
            print(f"\nwhere the time goes: {labels[m]}, median run ({mid['wall']:.2f} s)")
            for part, seconds in breakdown(mid):
                print(f"  {seconds:7.2f} s  {part}")
            if m == "audit" and books.report_sizes:
                print("           findings.json %d kB, report.md %d kB, %s conflict(s), %d links"
                      % (books.report_sizes[0] // 1000, books.report_sizes[1] // 1000, books.report_sizes[2],
                         len(books.links)))
            analyze = mid["timer"].get("analyze")
            if analyze:
                print("           analyze action's own timings: " + ", ".join(f"{k.replace('_seconds', '')} {v:.2f} s"
                                                                         for k, v in analyze.items()))
        print(f"\nload average after the timed runs: {os.getloadavg()[0]:.1f} (1 min; the lab's own devices count)")
        if opts.phase_samples:
            figures = phases(lab, devs, opts.phase_samples)
            print(f"\none device at a time (medians over {opts.phase_samples} of each kind), ms:")
            print(f"  {'kind':<10}{'ssh':>8}{'netmiko':>9}{'connect+prep':>14}{'command':>9}{'close':>7}{'tuned':>7}")
            for kind, f in figures.items():
                print(f"  {kind:<10}{f['ssh']:8.0f}{f['netmiko']:9.0f}{f['connect']:14.0f}{f['command']:9.0f}"
                      f"{f['close']:7.0f}{f['tuned']:7.0f}")
            print("  netmiko = a whole session.py collect (firewalls: iptables-save, the ip6tables probe and\n"
                  "  ip6tables-save); connect+prep/command/close = its parts for the one show command;\n"
                  "  tuned = the what-if row's session (fast_cli, no find_prompt), one command")
        print(textwrap.dedent("""
            ms/device = median wall / devices; x ssh = that against the raw ssh row. ctrl CPU: this
            process's CPU (threads) or the ansible-playbook process tree's; dev CPU: the simulators'
            and the firewalls' sshd sessions' CPU in the same time (same cores)."""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
