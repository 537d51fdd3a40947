"""Counters read live (issue 16, item 3): `diffserv_counters: true` against the SSH lab.

The lab firewall (real sshd, sudo with a password, the partner's dump loaded in the kernel) sends N
founding-incident SYN/ACKs (TCP from port 25 to a high port, 44 bytes with their MSS option) out of
its eth0: the output path runs mangle POSTROUTING, so the kernel's own counter of the founding rule
(`--dport 512:65535 -j TOS --set-tos 0x04`) counts them.  The same N SYN/ACKs, with the DS byte the
rule wrote (0x04), are offered to the IOS simulator, which runs them through the lab's own model of
the router (lab.iosconfig.forward, not the collection's) and counts them as IOS would.  The audit,
collecting live, reads both through the sessions it opened, and the founding conflict's `observed`
gives N packets for the marking rule, for access-list 106 entry 10 and for route-map
null_policy_route 10.  With `diffserv_counter_interval` the counters are read twice and what grew in
between (packets sent between the two readings) is each counter's `delta`.  Only show commands
reach the devices: the router's command log and sudo's own log on the firewall say so.
"""

import json
import os
import pathlib
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

pytestmark = [pytest.mark.lab, pytest.mark.playbook]
if os.geteuid() != 0 or not pathlib.Path("/usr/sbin/sshd").exists():
    pytest.skip("live counters need root (network namespaces) and openssh-server", allow_module_level=True)

from lab import Lab  # noqa: E402
from lab.iossim import offers_path_for, write_offers  # noqa: E402
from tests.kernel.netns_lab import _checksum, in_netns  # noqa: E402

LINKS = [{"from": "fw1:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]
COUNTER_COMMANDS = ("show access-lists", "show route-map", "show policy-map interface", "show ip interface")
SYN_ACK_LENGTH = 44  # 20 bytes of IP, 20 of TCP, the 4-byte MSS option: the story's "Total Length: 44"
# The story's ends as the example inventory places them (tests/fixtures/captures/make.py).
CLIENT, SERVER = "198.51.100.25", "203.0.113.25"


def syn_ack(src, dst, sport, dport, seq):
    """A TCP SYN/ACK with an MSS option, as the partner's mail server answers a SYN (DS byte 0)."""
    options = b"\x02\x04\x05\xb4"
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 2389181401, 6 << 4, 0x12, 5840, 0, 0) + options
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), seq & 0xFFFF, 0x4000, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    assert len(ip + tcp) == SYN_ACK_LENGTH
    return ip + tcp


def send_syn_acks(firewall, count, dport=40000):
    """`count` SYN/ACKs from port 25 leaving the firewall's eth0 (the kernel's mangle POSTROUTING runs on
    them); to the other end of its link, in the root namespace, which answers with a RST at most."""
    sender = in_netns(firewall.netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
    try:
        for index in range(count):
            sender.sendto(syn_ack(firewall.host, firewall.peer, 25, dport, 4040255024 + index), (firewall.peer, 0))
    finally:
        sender.close()


def offer_syn_acks(router, count, tos=0x04, dport=40000):
    """The same SYN/ACKs, as they arrive on border-rtr1's uplink with the byte the partner's rule wrote."""
    write_offers(offers_path_for(router.dir), [{
        "in_interface": "GigabitEthernet0/0", "out_interface": "GigabitEthernet0/1", "protocol": "tcp",
        "src": SERVER, "dst": CLIENT, "sport": 25, "dport": dport, "tos": tos, "length": SYN_ACK_LENGTH,
        "count": count}])


def spare_the_audits_session(firewall):
    """The founding rule marks every TCP segment leaving eth0 for a port >= 512: the replies of the
    firewall's own sshd to the audit's session too (a real-kernel fact the first version of this test
    met: the counter grew by the session's packets).  A rule before it lets the SSH replies return
    unmarked, so the founding rule counts exactly the SYN/ACKs a test sends."""
    firewall.run(["iptables-%s" % firewall.backend, "-w", "5", "-t", "mangle", "-I", "POSTROUTING", "1", "-o", "eth0",
                  "-p", "tcp", "--sport", "22", "-j", "RETURN"])
    # And the counters zeroed: the lab's own readiness probe of sshd (a SYN/ACK, a RST) was counted.
    firewall.run(["iptables-%s" % firewall.backend, "-w", "5", "-t", "mangle", "-Z"])


def founding_rule_packets(firewall):
    """The kernel's own counter of the founding rule (iptables-save -c inside the namespace, as root)."""
    for line in firewall.run(["iptables-save", "-c", "-t", "mangle"]).stdout.splitlines():
        if "--dport 512:65535" in line and "-A POSTROUTING" in line:
            return int(line[1:].split(":", 1)[0])
    raise AssertionError("the founding rule is not loaded")


def sudo_logged(firewall):
    """Every command sudo runs for the lab user, logged by sudo itself (one line a command)."""
    log = pathlib.Path(firewall.state_dir) / "sudo.log"
    sudoers = pathlib.Path("/etc/sudoers.d") / firewall.netns  # the lab's own file, removed by lab.down()
    sudoers.write_text(sudoers.read_text() + "Defaults:%s logfile=%s, loglinelen=0\n" % (firewall.user, log))
    subprocess.run(["visudo", "-cf", str(sudoers)], check=True, capture_output=True)
    return log


def root_commands(log):
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        # With a sudo password, `sudo -n` is tried first and refused ("a password is required"): not run.
        if "COMMAND=" in line and "password is required" not in line:
            command = line.split("COMMAND=", 1)[1].strip()
            found.append(" ".join([pathlib.PurePath(command.split()[0]).name] + command.split()[1:]))
    return found


def audit(lab, tmp_path, extra, *args):
    report = tmp_path / "report"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    variables = {"diffserv_links": LINKS, "diffserv_report_dir": str(report), "diffserv_counters": True}
    variables.update(extra)
    run = subprocess.run([str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(lab.inventory_path),
                          "-e", json.dumps(variables), *args],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    path = report / "findings.json"
    return run, json.loads(path.read_text()) if path.exists() else None


def founding(findings):
    found = [c for c in findings["conflicts"] if "--dport 512:65535" in c["marker"]["rule"]
             and c["treatment"]["action"] == "null-routed" and c["dscp"] == 1]
    assert len(found) == 1, [c["marker"]["rule"] for c in findings["conflicts"]]
    return found[0]


def router_row(observed, what):
    rows = [row for row in observed["router"] if row["what"] == what]
    assert len(rows) == 1, [row["what"] for row in observed["router"]]
    return rows[0]


def test_counters_read_live_give_the_packets_sent_and_only_show_commands_reach_the_devices(tmp_path):
    sent = 37
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        firewall, router = lab.firewalls[0], lab.routers[0]
        log = sudo_logged(firewall)
        spare_the_audits_session(firewall)
        before = founding_rule_packets(firewall)
        send_syn_acks(firewall, sent)
        assert founding_rule_packets(firewall) - before == sent  # the kernel counted them
        offer_syn_acks(router, sent)
        # In check mode: reading counters changes nothing, so it runs (and proves it sends nothing else).
        run, findings = audit(lab, tmp_path, {}, "--check")
        commands = [entry["command"] for entry in router.commands()]
        configuration = router.config_commands()
        as_root = root_commands(log)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert findings["errors"] == [], findings["errors"]
    observed = founding(findings)["observed"]
    assert before == 0
    assert (observed["firewall"]["packets"], observed["firewall"]["bytes"]) == (sent, sent * SYN_ACK_LENGTH)
    assert observed["fired"] is True and "delta" not in observed["firewall"]
    acl = router_row(observed, "access-list 106 entry 10 matches")
    assert acl["packets"] == sent and "dscp 1 (%d matches)" % sent in acl["text"]
    route_map = router_row(observed, "route-map null_policy_route 10 policy routing matches")
    assert (route_map["packets"], route_map["bytes"]) == (sent, sent * SYN_ACK_LENGTH)
    # The uplink's inbound filter let them in (entry 60, `permit ip any any`) and the input policy's
    # class-default counted them (the story's SYN/ACKs are not HTTP requests: http-hacks never matches).
    assert router_row(observed, "access-list 110 entry 60 matches")["packets"] == sent
    assert router_row(observed, "GigabitEthernet0/0 input, service-policy mark-inbound-http-hacks, "
                                "class class-default: packets")["packets"] == sent
    # Only show commands: each counter command once, after the running configuration, nothing configured.
    assert configuration == []
    assert [c for c in commands if c.startswith("show ")] == ["show running-config"] + list(COUNTER_COMMANDS)
    assert all(c.startswith(("show ", "terminal ")) or c in ("enable", "<secret>", "exit") for c in commands), commands
    assert sorted(set(as_root)) == ["ip6tables-save", "iptables-save", "iptables-save -c"], as_root
    assert as_root.count("iptables-save -c") == 1
    # The collection carried the readings redacted like everything else: no secret of the router's
    # configuration (its SNMP communities) in anything written.
    for path in (tmp_path / "report").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "s3cr3tRW" not in text, path


def test_read_twice_an_interval_apart_the_deltas_are_what_was_sent_in_between(tmp_path):
    first, between = 11, 23
    interval = 8
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        firewall, router = lab.firewalls[0], lab.routers[0]
        log = sudo_logged(firewall)
        spare_the_audits_session(firewall)
        send_syn_acks(firewall, first)
        offer_syn_acks(router, first)
        base = founding_rule_packets(firewall)
        state = {}

        def between_readings():
            # After both first readings (the router's last counter command, the firewall's counted dump),
            # well before the second ones: `between` more packets to each.
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                shown = [entry["command"] for entry in router.commands()]
                if "show ip interface" in shown and "iptables-save -c" in root_commands(log):
                    time.sleep(0.5)
                    send_syn_acks(firewall, between)
                    offer_syn_acks(router, between)
                    state["sent_at"] = time.monotonic()
                    return
                time.sleep(0.05)

        sender = threading.Thread(target=between_readings, daemon=True)
        sender.start()
        run, findings = audit(lab, tmp_path, {"diffserv_counter_interval": interval})
        sender.join(10)
        commands = [entry["command"] for entry in router.commands()]
        as_root = root_commands(log)
    assert "sent_at" in state, "the first readings never came"
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert findings["errors"] == [], findings["errors"]
    observed = founding(findings)["observed"]
    assert interval <= observed["interval_seconds"] < interval + 10
    assert observed["notes"][0].startswith("in the ") and "access-list 106 entry 10 matches +%d packets" % between \
        in observed["notes"][0], observed["notes"]
    assert observed["firewall"]["packets"] == base + between
    assert observed["firewall"]["delta"] == {"packets": between, "bytes": between * SYN_ACK_LENGTH}
    acl = router_row(observed, "access-list 106 entry 10 matches")
    assert (acl["packets"], acl["delta"]["packets"]) == (first + between, between)
    route_map = router_row(observed, "route-map null_policy_route 10 policy routing matches")
    assert route_map["delta"] == {"packets": between, "bytes": between * SYN_ACK_LENGTH}
    # The uplink's filter let exactly those in between the readings.
    assert router_row(observed, "access-list 110 entry 60 matches")["delta"]["packets"] == between
    # Twice each counter command, nothing else.
    for command in COUNTER_COMMANDS:
        assert commands.count(command) == 2, commands
    assert as_root.count("iptables-save -c") == 2 and set(as_root) <= {"iptables-save", "ip6tables-save",
                                                                      "iptables-save -c"}, as_root


# A native nft partner firewall: the founding rule with a `counter` statement (nft counts only where a
# rule says so), and the firewall's own SSH replies returned before it, as above.
NFT_COUNTED = """table inet partner {
\tchain postrouting {
\t\ttype filter hook postrouting priority mangle; policy accept;
\t\toifname "eth0" tcp sport 22 return
\t\toifname "eth0" tcp dport { 22, 25, 53, 80, 443 } ip dscp set 0x04
\t\toifname "eth0" tcp dport 512-65535 counter ip dscp set lephb
\t}
}
"""


def test_a_native_nft_host_gives_its_counter_statement_live(tmp_path):
    import yaml

    sent = 19
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        firewall, router = lab.firewalls[0], lab.routers[0]
        firewall.run(["nft", "flush", "ruleset"])
        firewall.run(["nft", "-f", "-"], input_text=NFT_COUNTED)
        # Its platform left to its group (the lab's inventory forces iptables): read by what it runs.
        inventory = yaml.safe_load(lab.inventory_path.read_text())
        for values in inventory["all"]["children"]["linux_firewalls"]["hosts"].values():
            values.pop("diffserv_platform", None)
        lab.inventory_path.write_text(yaml.safe_dump(inventory))
        log = sudo_logged(firewall)
        send_syn_acks(firewall, sent)
        offer_syn_acks(router, sent)
        run, findings = audit(lab, tmp_path, {})
        as_root = root_commands(log)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert findings["errors"] == [], findings["errors"]
    conflicts = [c for c in findings["conflicts"] if "tcp dport 512-65535" in c["marker"]["rule"]
                 and c["treatment"]["action"] == "null-routed"]
    assert len(conflicts) == 1, [c["marker"]["rule"] for c in findings["conflicts"]]
    observed = conflicts[0]["observed"]
    assert conflicts[0]["marker"]["file"].endswith("(nft list ruleset)")
    assert (observed["firewall"]["packets"], observed["firewall"]["bytes"]) == (sent, sent * SYN_ACK_LENGTH)
    assert router_row(observed, "access-list 106 entry 10 matches")["packets"] == sent
    # The listing once for the configuration, once for the counters; iptables printed nothing, so no -c.
    assert as_root.count("nft list ruleset") == 2 and "iptables-save -c" not in as_root, as_root
