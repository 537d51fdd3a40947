"""The incident replayed: mail to the partner fails because of one byte, and clearing it fixes it.

Four network namespaces (``replay/topology.py``)::

    relay (client's mail relay) -> border (client's border router) -> partner firewall -> partner mail server
    198.51.100.25                  198.51.100.1 | 203.0.113.2             203.0.113.1 eth0 | eth1 203.0.113.17    203.0.113.25

  (the example inventory's addresses: our relay inside border-rtr1's 198.51.100.0/24, the border's
  uplink GigabitEthernet0/0 203.0.113.2/30, the partner on the Internet, so the partner's SYN/ACKs
  pass the uplink's anti-spoofing access-list 110 and meet the DSCP 1 null route; see
  ``replay/topology.py``)

* The partner firewall loads the founding dump (``inventories/example/files/partner-fw.rules``)
  with the system's ``iptables-restore`` (nf_tables on Debian 12): a modern kernel, so its
  ``--set-tos 0x04`` writes the byte 0x04 (DSCP 1) whatever arrived. Its ``eth0`` faces the border
  (the dump's outside interface) and ``eth1`` its mail server; it forwards, policies ACCEPT.
* The border stands in for the IOS router's data plane: the Code-Red recipe on its uplink
  (``access-list 106 permit ip any any dscp 1``, ``route-map null_policy_route permit 10`` /
  ``match ip address 106`` / ``set interface Null0``, ``ip policy route-map null_policy_route``) is
  played by one netfilter rule in the border namespace,
  ``-t mangle -A PREROUTING -i uplink -m dscp --dscp 1 -j DROP``: what arrives on the uplink with
  DSCP 1 goes nowhere, everything else is routed on. (The IOS model itself is tested elsewhere;
  this test is about the packets.)
* The partner's mail server is a small SMTP server process (``replay/smtp.py``) on port 25; the
  relay opens TCP from an ephemeral port (>= 32768 with Linux defaults, so inside the dump's
  ``--dport 512:65535``) and waits 3 s for the ``220 partner.example ESMTP`` greeting.
* AF_PACKET captures on the border's uplink (before its netfilter: a dropped SYN/ACK is still seen)
  and on the partner firewall's eth1 (the SYN/ACK as the mail server sent it). The frames of each
  step are written to ``nofw.pcap``, ``failed.pcap`` and ``fixed.pcap`` in the test's tmp_path,
  named after the incident's captures (``tcpdump -r`` reads them).

Steps, as in the story: the partner firewall with no rules (a router: the greeting arrives, DS
byte 0x00), then with the founding dump (no greeting; the partner's SYN/ACK reaches the border with
0x04 and the border's rule counts the drops), then with a DSCP clear appended on the partner's
egress (``append_partner_change``, which a remediation feature can call with its own generated
change; the greeting arrives, 0x00). At each step ``diffserv.audit``'s ``trace`` of that SYN/ACK
(forwarded: in eth1, out eth0), on the dump file with ``era="modern"`` and on the kernel's own
``iptables-save``, gives the byte the capture read.
"""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset

from .replay.topology import (
    BORDER_UPLINK,
    MAIL_ADDR,
    MAIL_NAME,
    RELAY_ADDR,
    Capture,
    IncidentTopology,
    append_partner_change,
    syn_acks,
    unavailable_reason,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
FOUNDING_DUMP = ROOT / "inventories" / "example" / "files" / "partner-fw.rules"
FOUNDING_RULE = "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04"
CLEAR_ON_EGRESS = "-t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0"
NO_RULES = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n" \
           ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
GREETING = f"220 {MAIL_NAME} ESMTP"
TIMEOUT = 3.0

_REASON = unavailable_reason()
pytestmark = [pytest.mark.kernel, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]


def traced_byte(dump_text: str, source: str, tos_in: int, dport: int, era: str = "auto") -> tuple[int, str, list[int]]:
    """The byte ``trace`` gives the partner's SYN/ACK (forwarded eth1 -> eth0), its era, the writing lines."""
    ruleset = parse_ruleset(dump_text, source)
    packet = Packet.from_dict({"path": "forward", "in_interface": "eth1", "out_interface": "eth0", "protocol": "tcp",
                               "src": MAIL_ADDR, "dst": RELAY_ADDR, "sport": 25, "dport": dport, "tos": tos_in})
    result = trace(ruleset, packet, era=era)
    assert result.verdict == "accept", result.as_dict()
    return result.tos, result.era, [s.line for s in result.steps if s.tos_before != s.tos_after]


class Attempt:
    """One SMTP attempt and what the captures saw of its SYN/ACK."""

    def __init__(self, topo: IncidentTopology, uplink: Capture, inside: Capture, pcap: pathlib.Path) -> None:
        uplink.drain()
        inside.drain()
        self.exchange = topo.smtp_exchange(TIMEOUT)
        self.port = self.exchange.local[1]
        frames = uplink.frames()
        Capture.write_pcap(pcap, frames)
        conn = {"src": MAIL_ADDR, "sport": 25, "dst": RELAY_ADDR, "dport": self.port}
        # On the border's uplink: as it arrived from the partner (received, not sent, by the border).
        self.at_border = syn_acks(frames, outgoing=False, **conn)
        # On the partner firewall's eth1: as the mail server sent it (before the partner's rules).
        self.from_server = syn_acks(inside.frames(), outgoing=False, **conn)
        self.pcap = pcap

    def describe(self) -> str:
        return (f"exchange {self.exchange}; SYN/ACKs at the border {[hex(s['tos']) for s in self.at_border]}, "
                f"from the server {[hex(s['tos']) for s in self.from_server]}; capture {self.pcap}")


def test_incident_replayed_dscp1_synack_is_dropped_at_the_border_and_a_clear_on_partner_egress_fixes_it(tmp_path):
    founding = FOUNDING_DUMP.read_text()
    assert FOUNDING_RULE in founding
    with IncidentTopology() as topo:
        uplink = topo.capture("border", BORDER_UPLINK)
        inside = topo.capture("pfw", "eth1")
        topo.drop_dscp1_on_uplink()

        # The partner firewall "turned off" (no rules, a router): mail flows (the incident's nofw.pcap).
        topo.load_partner_rules(NO_RULES)
        nofw = Attempt(topo, uplink, inside, tmp_path / "nofw.pcap")
        assert nofw.exchange.ok and nofw.exchange.greeting == GREETING, nofw.describe()
        assert nofw.exchange.ehlo[0].startswith(f"250-{MAIL_NAME}"), nofw.describe()
        assert [s["tos"] for s in nofw.at_border] == [0x00], nofw.describe()
        assert topo.border_drops() == 0

        # The "upgraded" firewall: the founding dump. No greeting; the SYN/ACK reaches the border
        # with DS byte 0x04 (DSCP 1) and goes no further (the incident's failed.pcap).
        topo.load_partner_rules(founding)
        failed = Attempt(topo, uplink, inside, tmp_path / "failed.pcap")
        assert failed.port >= 1024, failed.describe()
        assert failed.exchange.greeting is None, failed.describe()
        assert failed.exchange.elapsed >= TIMEOUT - 0.5, failed.describe()
        assert failed.at_border, "the partner's SYN/ACK never reached the border: " + failed.describe()
        assert {s["tos"] for s in failed.at_border} == {0x04}, failed.describe()
        assert failed.from_server and {s["tos"] for s in failed.from_server} == {0x00}, failed.describe()
        assert topo.border_drops() >= len(failed.at_border), failed.describe()
        # trace agrees: on the 1.2.9 dump read as a modern kernel runs it, and on the kernel's own dump.
        assert traced_byte(founding, str(FOUNDING_DUMP), 0x00, failed.port, era="modern") == (0x04, "modern", [35])
        live_tos, live_era, _lines = traced_byte(topo.partner_rules(), "partner-fw (iptables-save)", 0x00, failed.port)
        assert (live_tos, live_era) == (0x04, "modern")

        # The fix on the partner's side: clear the DSCP on egress, after the founding rules.
        drops_before = topo.border_drops()
        append_partner_change(topo, CLEAR_ON_EGRESS)
        fixed = Attempt(topo, uplink, inside, tmp_path / "fixed.pcap")
        assert fixed.port >= 1024 and fixed.port != failed.port, fixed.describe()
        assert fixed.exchange.ok and fixed.exchange.greeting == GREETING, fixed.describe()
        assert [s["tos"] for s in fixed.at_border] == [0x00], fixed.describe()
        assert [s["tos"] for s in fixed.from_server] == [0x00], fixed.describe()
        live = topo.partner_rules()
        assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in live
        tos, era, lines = traced_byte(live, "partner-fw (iptables-save)", 0x00, fixed.port)
        assert (tos, era) == (0x00, "modern") and len(lines) == 2, lines  # 0x04 by the founding rule, then 0x00
        # Nothing the partner sends is dropped any more (retransmitted SYN/ACKs of the failed try included).
        assert topo.border_drops() == drops_before


def test_partner_change_takes_restore_fragments_too():
    """A remediation may hand its change as an iptables-restore fragment: it lands after the founding rules."""
    with IncidentTopology() as topo:
        topo.load_partner_rules(FOUNDING_DUMP.read_text())
        append_partner_change(topo, "# generated\n*mangle\n-A POSTROUTING -o eth0 -j DSCP --set-dscp 0\nCOMMIT\n")
        mangle = [line for line in topo.partner_rules().splitlines() if line.startswith("-A POSTROUTING")]
        assert mangle[-1] == "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" and len(mangle) == 14
        with pytest.raises(ValueError):
            append_partner_change(topo, "  \n# nothing\n")


def test_the_generated_partner_request_fixes_the_replayed_incident(tmp_path):
    """The audit's own remark_boundary bundle: the partner (not ours to change) gets a request whose
    candidate dump, loaded on its firewall, lets the mail through with DSCP 0 at the border."""
    import json
    import os
    import subprocess
    import sys

    report = tmp_path / "report"
    run = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "diffserv.audit.audit",
         "-i", "inventories/example", "-e", json.dumps({"diffserv_report_dir": str(report)})],
        cwd=ROOT, env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    bundle = report / "changes" / "remark_boundary"
    assert (bundle / "partner-fw.request.md").exists() and not (bundle / "partner-fw.commands").exists()
    candidate = (bundle / "partner-fw.candidate").read_text()
    with IncidentTopology() as topo:
        uplink = topo.capture("border", BORDER_UPLINK)
        inside = topo.capture("pfw", "eth1")
        topo.drop_dscp1_on_uplink()
        topo.load_partner_rules(FOUNDING_DUMP.read_text())
        failed = Attempt(topo, uplink, inside, tmp_path / "failed.pcap")
        assert failed.exchange.greeting is None and {s["tos"] for s in failed.at_border} == {0x04}, failed.describe()
        topo.load_partner_rules(candidate)
        fixed = Attempt(topo, uplink, inside, tmp_path / "generated.pcap")
        assert fixed.exchange.ok and fixed.exchange.greeting == GREETING, fixed.describe()
        assert [s["tos"] for s in fixed.at_border] == [0x00], fixed.describe()


def _audit(folder, partner_rules, captures):
    """The audit playbook on the example's border router and the given partner dump, with captures."""
    import json
    import os
    import subprocess
    import sys

    import yaml

    inventory = {"all": {
        "vars": {"diffserv_links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}],
                 "diffserv_captures": captures},
        "children": {
            "linux_firewalls": {"hosts": {"partner-fw": {"diffserv_config_file": str(partner_rules),
                                                         "diffserv_managed": False}}},
            "ios_routers": {"hosts": {"border-rtr1": {"diffserv_config_file": str(BORDER_CONFIG)}}}}}}
    (folder / "hosts.yml").write_text(yaml.safe_dump(inventory))
    report = folder / "report"
    run = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "diffserv.audit.audit",
         "-i", str(folder / "hosts.yml"), "-e", json.dumps({"diffserv_report_dir": str(report),
                                                            "diffserv_write_bundles": False})],
        cwd=ROOT, env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return json.loads((report / "findings.json").read_text())


BORDER_CONFIG = ROOT / "inventories" / "example" / "files" / "border-router.cfg"


def test_the_audit_reads_the_replays_border_capture_and_counters_line_35_and_the_null_route(tmp_path):
    """Issue 16 item 4: the capture the replay takes at the border, read by the audit, is tied to the
    founding rule (partner-fw line 35) and to border-rtr1's Null0 route; the partner firewall's kernel
    counters (`iptables-save -c` after the replay), read by the audit, count exactly the SYN/ACKs the
    mail server sent, which are exactly those the border's capture saw arrive."""
    import json
    import time

    founding = FOUNDING_DUMP.read_text()
    with IncidentTopology() as topo:
        uplink = topo.capture("border", BORDER_UPLINK)
        inside = topo.capture("pfw", "eth1")
        topo.drop_dscp1_on_uplink()
        link = json.loads(topo.exec("border", ["ip", "-j", "link", "show", BORDER_UPLINK]).stdout)
        mac = link[0]["address"]
        topo.load_partner_rules(NO_RULES)
        nofw = Attempt(topo, uplink, inside, tmp_path / "nofw.pcap")
        assert nofw.exchange.ok, nofw.describe()
        topo.load_partner_rules(founding)  # a restore: its counters start at zero
        uplink.drain()
        start, start_inside = len(uplink.seen), len(inside.seen)
        failed = Attempt(topo, uplink, inside, tmp_path / "failed.pcap")
        assert failed.exchange.greeting is None and failed.at_border, failed.describe()
        # The mail server would retransmit its SYN/ACK for a minute: silence it (a test-side DROP on its
        # own output), let what is in flight land, then read the capture and the counters at rest.
        topo.exec("mail", ["iptables", "-w", "5", "-A", "OUTPUT", "-p", "tcp", "--sport", "25", "-j", "DROP"])
        time.sleep(0.5)
        uplink.frames()
        inside.frames()
        conn = {"src": MAIL_ADDR, "sport": 25, "dst": RELAY_ADDR, "dport": failed.port}
        at_border = syn_acks(uplink.seen[start:], outgoing=False, **conn)
        from_server = syn_acks(inside.seen[start_inside:], outgoing=False, **conn)
        Capture.write_pcap(tmp_path / "failed.pcap", uplink.seen[start:])
        counted = topo.exec("pfw", ["iptables-save", "-c"]).stdout
    assert len(at_border) == len(from_server) >= 2, (len(at_border), len(from_server))  # retransmitted, all dropped
    assert {s["tos"] for s in at_border} == {0x04}

    # The captures at the border, with the audited files: the founding dump and border-router.cfg.
    point = {"point": "border-rtr1:GigabitEthernet0/0", "mac": mac}
    findings = _audit(tmp_path, FOUNDING_DUMP, [dict(point, file=str(tmp_path / "failed.pcap")),
                                                dict(point, file=str(tmp_path / "nofw.pcap"))])
    assert not [e for e in findings["errors"] if e.get("stage") == "captures"], findings["errors"]
    replies = [o for o in findings["observations"] if o["capture"].endswith("failed.pcap")
               and o["flow"]["src"] == MAIL_ADDR and o["flow"]["sport"] == 25]
    assert len(replies) == 1, [(o["flow"], o["symptom"]) for o in findings["observations"]]
    syn_ack = replies[0]
    assert syn_ack["symptom"] == "handshake-stalled" and syn_ack["ds_byte"] == 0x04
    assert len(syn_ack["frames"]) == len(at_border)
    assert syn_ack["marker"]["host"] == "partner-fw" and syn_ack["marker"]["line"] == 35
    treatment = syn_ack["treatment"]
    assert treatment["host"] == "border-rtr1" and treatment["interface"] == "GigabitEthernet0/0"
    assert treatment["action"] == "null-routed", treatment
    lines = {line["line"] for line in treatment["lines"]}
    assert {77, 89, 90, 91} <= lines and 83 not in lines, lines  # ACL 106, the route-map to Null0; not 110's deny
    # The capture taken with the partner's rules off (0x00) contradicts the audited dump (0x04), as in the story.
    assert any(c["capture"].endswith("nofw.pcap") for c in findings["contradictions"]), findings["contradictions"]
    assert any(field["field"] == "ds_byte" for diff in findings["capture_diff"] for packet in diff["packets"]
               for field in packet["fields"]), findings["capture_diff"]

    # The kernel's counted dump of the partner firewall: the founding rule counted every SYN/ACK sent.
    (tmp_path / "counted").mkdir()
    counted_path = tmp_path / "counted" / "partner-fw.counted.rules"
    counted_path.write_text(counted)
    findings = _audit(tmp_path / "counted", counted_path, [])
    conflicts = [c for c in findings["conflicts"] if "--dport 512:65535" in c["marker"]["rule"]
                 and c["treatment"]["action"] == "null-routed"]
    assert len(conflicts) == 1, [c["marker"]["rule"] for c in findings["conflicts"]]
    observed = conflicts[0]["observed"]
    assert observed["fired"] is True
    assert observed["firewall"]["packets"] == len(from_server) == len(at_border), observed
