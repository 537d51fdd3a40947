"""Benchmark: collection wall time from N simulated IOS routers + M real firewalls (lab), by
netmiko against the floor of one raw ``ssh host cmd`` per device (OpenSSH client, key auth).

Per device the collection is one command: ``show running-config`` on a router (the routers log
in at privilege 15 here, so a raw exec request may run it), ``sudo -n iptables-save`` on a
firewall. Three ways, each sequential and with a thread pool (``--workers``):

    netmiko   ConnectHandler + session preparation + send_command + disconnect (cisco_ios / linux)
    paramiko  SSHClient.connect + exec_command (what netmiko is built on, without the CLI dance)
    ssh       subprocess ``ssh -o BatchMode=yes ... host cmd`` (the floor a shell script pays)

Also printed: netmiko's session set-up alone (connect + enable) and one ``show running-config``
on an open session, medians over the routers and runs. Needs root (the lab's firewalls).

    .venv/bin/python bench/lab_bench.py                    # 4 routers, 2 firewalls, 3 runs
    .venv/bin/python bench/lab_bench.py --routers 8 --firewalls 4 --runs 5
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paramiko  # noqa: E402
from netmiko import ConnectHandler  # noqa: E402

from lab.launcher import Lab  # noqa: E402


def targets(lab: Lab) -> list[dict[str, Any]]:
    out = []
    for r in lab.routers:
        out.append({"name": r.name, "host": r.host, "port": r.port, "user": r.username, "password": r.password,
                    "secret": r.enable_secret, "type": "cisco_ios", "cmd": "show running-config"})
    for f in lab.firewalls:
        out.append({"name": f.name, "host": f.host, "port": f.port, "user": f.user, "password": f.password,
                    "secret": f.password, "type": "linux", "cmd": "sudo -n iptables-save"})
    return out


def via_netmiko(t: dict[str, Any], lab: Lab) -> int:
    conn = ConnectHandler(device_type=t["type"], host=t["host"], port=t["port"], username=t["user"],
                          password=t["password"], secret=t["secret"])
    try:
        return len(conn.send_command(t["cmd"], read_timeout=30))
    finally:
        conn.disconnect()


def via_paramiko(t: dict[str, Any], lab: Lab) -> int:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(t["host"], port=t["port"], username=t["user"], password=t["password"], look_for_keys=False, allow_agent=False)
    try:
        _, out, _ = client.exec_command(t["cmd"])
        return len(out.read())
    finally:
        client.close()


def via_ssh(t: dict[str, Any], lab: Lab) -> int:
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={lab.known_hosts_path}", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", "-i", str(lab.client_key_path), "-p", str(t["port"]), f"{t['user']}@{t['host']}", t["cmd"]]
    proc = subprocess.run(argv, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{t['name']}: {proc.stderr.decode(errors='replace')}")
    return len(proc.stdout)


def wall(fn: Callable[[dict[str, Any], Lab], int], ts: list[dict[str, Any]], lab: Lab, workers: int) -> float:
    start = time.perf_counter()
    if workers <= 1:
        sizes = [fn(t, lab) for t in ts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sizes = list(pool.map(lambda t: fn(t, lab), ts))
    assert all(s > 500 for s in sizes), sizes
    return time.perf_counter() - start


def session_figures(lab: Lab, runs: int) -> tuple[float, float]:
    setup, show = [], []
    for _ in range(runs):
        for r in lab.routers:
            start = time.perf_counter()
            conn = ConnectHandler(**r.netmiko_params())
            conn.enable()
            setup.append(time.perf_counter() - start)
            start = time.perf_counter()
            conn.send_command("show running-config")
            show.append(time.perf_counter() - start)
            conn.disconnect()
    return statistics.median(setup), statistics.median(show)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routers", type=int, default=4)
    parser.add_argument("--firewalls", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    opts = parser.parse_args()
    with Lab(firewalls=opts.firewalls, routers=opts.routers, router_privilege=15) as lab:
        print(f"lab up in {lab.timings['up']:.2f} s ({opts.routers} routers: {lab.timings['routers']:.2f} s, "
              f"{opts.firewalls} firewalls: {lab.timings['firewalls']:.2f} s)")
        setup, show = session_figures(lab, opts.runs)
        print(f"netmiko session set-up (connect + enable), median: {setup * 1000:.0f} ms; "
              f"show running-config on an open session: {show * 1000:.0f} ms")
        ts = targets(lab)
        rows = []
        for name, fn in (("ssh", via_ssh), ("paramiko", via_paramiko), ("netmiko", via_netmiko)):
            seq = statistics.median(wall(fn, ts, lab, 1) for _ in range(opts.runs))
            par = statistics.median(wall(fn, ts, lab, opts.workers) for _ in range(opts.runs))
            rows.append((name, seq, par))
        floor_seq, floor_par = rows[0][1], rows[0][2]
        print(f"\ncollection of {len(ts)} devices, median of {opts.runs} runs")
        print(f"{'how':<10}{'sequential':>12}{'x ssh':>8}{f'{opts.workers} threads':>14}{'x ssh':>8}")
        for name, seq, par in rows:
            print(f"{name:<10}{seq:>11.2f}s{seq / floor_seq:>8.2f}{par:>13.2f}s{par / floor_par:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
