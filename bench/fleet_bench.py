"""Benchmark: the offline audit of a fleet (default 500 firewalls + 500 routers) through ansible-playbook.

Generates saved configurations of realistic size (firewalls: the founding dump's mangle rules plus
per-site TOS/DSCP rules and a filter table, ~150 rules; routers: ~40 interfaces, QoS policies, ACLs,
PBR, ~400 lines), one link per pair, then times in the same command:

  baseline  the same inventory with one controller task that reads every host's variables: what
            ansible-playbook itself costs (start-up, inventory, templating)
  audit     `ansible-playbook diffserv.audit.audit` (collect from files, analyse once, reports)

and prints wall times, the per-device cost, and the ratio.

    .venv/bin/python bench/fleet_bench.py            # 500 + 500, 3 runs each
    .venv/bin/python bench/fleet_bench.py 50 --runs 1
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
PARTNER = (ROOT / "inventories" / "example" / "files" / "partner-fw.rules").read_text()


def firewall(index: int, rng: random.Random) -> str:
    head, _commit, _tail = PARTNER.partition("COMMIT")
    extra = []
    for rule in range(60):
        port = rng.choice((22, 25, 53, 80, 110, 443, 993, 3306, 5060, rng.randint(1024, 65535)))
        target = rng.choice(("-j TOS --set-tos 0x10/0xff", "-j DSCP --set-dscp-class AF21", "-j DSCP --set-dscp 46",
                             "-j TOS --set-tos 0x08/0x3f"))
        extra.append("-A POSTROUTING -o eth%d -p %s -m %s --dport %d -m comment --comment \"site %d rule %d\" %s"
                     % (rule % 2, rng.choice(("tcp", "udp")), "tcp" if rule % 3 else "udp", port, index, rule,
                        target))
    extra = [line.replace("-p udp -m tcp", "-p tcp -m tcp").replace("-p tcp -m udp", "-p udp -m udp")
             for line in extra]
    filter_rules = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
                    "-A INPUT -i lo -j ACCEPT", "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"]
    for rule in range(60):
        filter_rules.append("-A FORWARD -d 10.%d.%d.0/24 -p tcp -m tcp --dport %d -j ACCEPT"
                            % (index % 250, rule, rng.choice((25, 80, 443, 993))))
    return head + "\n".join(extra) + "\nCOMMIT\n" + "\n".join(filter_rules) + "\nCOMMIT\n"


def router(index: int, rng: random.Random) -> str:
    lines = ["hostname rtr%04d" % index, "!", "class-map match-any http-hacks",
             ' match protocol http url "*default.ida*"', "class-map match-any VOICE", " match ip dscp ef",
             "class-map match-all BULK", " match access-group name BULK-TRAFFIC", "!",
             "policy-map mark-inbound-http-hacks", " class http-hacks", "  set ip dscp 1",
             "policy-map WAN-OUT", " class VOICE", "  priority 512", " class BULK", "  bandwidth 1000",
             "  set dscp af11", " class class-default", "  fair-queue", "!"]
    lines += ["ip access-list extended BULK-TRAFFIC"] + [" permit tcp any any eq %d" % p for p in (20, 21, 873)]
    lines += ["!", "access-list 106 permit ip any any dscp 1"]
    for acl in range(120, 140):
        # IOS keeps one copy of a repeated entry: eight distinct entries a list.
        lines += ["access-list %d permit tcp any host 198.51.100.%d eq %d" % (acl, host, rng.choice((25, 80, 443)))
                  for host in range(1, 9)]
    lines += ["!", "route-map null_policy_route permit 10", " match ip address 106", " set interface Null0", "!"]
    lines += ["interface GigabitEthernet0/0", " description uplink", " ip address 203.0.113.2 255.255.255.252",
              " ip policy route-map null_policy_route", " service-policy input mark-inbound-http-hacks", "!"]
    for port in range(1, 40):
        lines += ["interface GigabitEthernet1/%d" % port, " description site %d" % port,
                  " ip address 10.%d.%d.1 255.255.255.0" % (index % 250, port),
                  " ip access-group %d in" % (120 + port % 20)]
        if port % 4 == 0:
            lines.append(" service-policy output WAN-OUT")
        lines.append("!")
    lines += ["snmp-server community private RO", "enable secret 5 $1$abcd$efghijklmnopqrstuvwx12", "end"]
    return "\n".join(lines) + "\n"


BASELINE = """---
- name: Same inventory, no work (ansible-playbook start-up, inventory, one controller task)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Touch every host's variables once
      ansible.builtin.debug:
        msg: "{{ groups['linux_firewalls'] | map('extract', hostvars, 'diffserv_config_file') | list | length }}"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="?", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--bundles", action="store_true",
                        help="also plan and write the change bundles (off: the audit's findings and reports only)")
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as folder:
        base = pathlib.Path(folder)
        hosts = {"linux_firewalls": {"hosts": {}}, "ios_routers": {"hosts": {}}}
        links = []
        total_bytes = 0
        for index in range(args.pairs):
            fw_text, rtr_text = firewall(index, rng), router(index, rng)
            total_bytes += len(fw_text) + len(rtr_text)
            (base / ("fw%04d.rules" % index)).write_text(fw_text)
            (base / ("rtr%04d.cfg" % index)).write_text(rtr_text)
            hosts["linux_firewalls"]["hosts"]["fw%04d" % index] = {"diffserv_config_file": str(base / ("fw%04d.rules"
                                                                                                        % index))}
            hosts["ios_routers"]["hosts"]["rtr%04d" % index] = {"diffserv_config_file": str(base / ("rtr%04d.cfg"
                                                                                                     % index))}
            links.append({"from": "fw%04d:eth0" % index, "to": "rtr%04d:GigabitEthernet0/0" % index})
        inventory = base / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": hosts, "vars": {"diffserv_links": links}}}))
        (base / "baseline.yml").write_text(BASELINE)
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
                   ANSIBLE_FORKS=str(args.forks))
        commands = {
            "baseline": [str(BIN / "ansible-playbook"), "-i", str(inventory), str(base / "baseline.yml")],
            "audit": [str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(inventory),
                      "-e", "diffserv_report_dir=%s" % (base / "report"),
                      "-e", "diffserv_write_bundles=%s" % ("true" if args.bundles else "false")],
        }
        times: dict[str, list[float]] = {"baseline": [], "audit": []}
        for _run in range(args.runs):
            for name, command in commands.items():
                start = time.perf_counter()
                done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
                times[name].append(time.perf_counter() - start)
                if done.returncode != 0:
                    sys.exit("%s failed:\n%s" % (name, done.stdout[-3000:] + done.stderr[-3000:]))
        devices = 2 * args.pairs
        findings = (base / "report" / "findings.json").read_text()
        print("fleet: %d firewalls + %d routers (%.1f MB of configuration), %d links, forks %d, %d run(s), "
              "change bundles %s" % (args.pairs, args.pairs, total_bytes / 1e6, len(links), args.forks, args.runs,
                                     "planned and written" if args.bundles else "off"))
        for name in ("baseline", "audit"):
            median = statistics.median(times[name])
            print("  %-8s median %6.1f s (min %.1f, max %.1f) = %.3f s a device"
                  % (name, median, min(times[name]), max(times[name]), median / devices))
        ratios = [a / b for a, b in zip(times["audit"], times["baseline"])]
        print("  audit / baseline: median %.2fx; findings.json %d kB" % (statistics.median(ratios), len(findings) // 1000))


if __name__ == "__main__":
    main()
