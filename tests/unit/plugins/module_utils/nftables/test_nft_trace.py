"""nft rulesets through the one evaluator: trace(), the marking map, and the driver feeding the join."""

import pathlib
import random

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader, platforms
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, Stage, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.text import parse_nft

ROOT = pathlib.Path(__file__).resolve().parents[5]
PARTNER = (ROOT / "tests/fixtures/inputs/nft/partner-fw.nft").read_text()
ROUTER = (ROOT / "inventories/example/files/border-router.cfg").read_text()

SYN_ACK = {"path": "output", "out_interface": "eth0", "protocol": "tcp", "sport": 25, "dport": 28680, "tos": 0}


def view(text, family=4):
    return parse_nft(text, "fw.nft").view(family)


def run(text, packet, family=4):
    return trace(view(text, family), Packet.from_dict(packet, family))


def test_founding_incident_in_nft_leaves_with_dscp_1_naming_table_chain_priority_and_line():
    result = run(PARTNER, SYN_ACK)
    assert result.tos == 0x04 and result.verdict == "accept" and not result.uncertain
    step = result.steps[-1].as_dict()
    assert {k: step[k] for k in ("table", "chain", "priority", "line", "hook", "action")} == {
        "table": "inet partner", "chain": "postrouting", "priority": -150, "line": 16, "hook": "POSTROUTING",
        "action": "write"}


def test_iptables_steps_name_their_table_priority_too():
    dump = (ROOT / "inventories/example/files/partner-fw.rules").read_text()
    from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
    result = trace(parse_ruleset(dump, "fw.rules"), Packet.from_dict(SYN_ACK))
    assert [(s.table, s.priority, s.line) for s in result.steps] == [("mangle", -150, 35)]


TWO_CHAINS = """table inet early {
 chain post {
  type filter hook postrouting priority -200; policy accept;
  ip dscp set cs2
  tcp dport 22 accept
  ip dscp set cs3
 }
}
table ip late {
 chain post {
  type filter hook postrouting priority mangle + 5; policy accept;
  udp dport 53 drop
  ip dscp set cs4 tcp dport 23 accept
  ip dscp set cs5
 }
}
"""


def test_base_chains_run_in_priority_order_whatever_the_listing_order():
    assert [(s.table, s.priority) for s in view(TWO_CHAINS).base_chains("POSTROUTING")] == [
        ("inet early", -200), ("ip late", -145)]


def test_accept_ends_only_its_own_base_chain_and_the_last_write_wins():
    result = run(TWO_CHAINS, dict(SYN_ACK, dport=22))
    # early: cs2, accept (cs3 skipped); late: cs4 written before the failing match, then cs5
    assert [(s.table, s.line, s.action) for s in result.steps] == [
        ("inet early", 4, "write"), ("inet early", 5, "accept"), ("ip late", 13, "write"), ("ip late", 14, "write")]
    assert result.tos == 40 << 2  # cs5


def test_drop_ends_every_later_base_chain():
    result = run(TWO_CHAINS, dict(SYN_ACK, protocol="udp", dport=53))
    assert result.verdict == "drop" and result.dscp == 24  # cs3 from early, nothing from late


def test_an_ip_table_and_ip_statements_never_touch_ipv6_packets():
    assert [s.table for s in view(TWO_CHAINS, 6).base_chains("POSTROUTING")] == ["inet early"]
    result = run(TWO_CHAINS, dict(SYN_ACK, dport=22, src="2001:db8::1"), family=6)
    assert [(s.line, s.action) for s in result.steps] == [(5, "accept")] and result.tos == 0


def test_same_priority_chains_run_in_reverse_listing_order():
    text = """table inet a {
 chain one { type filter hook postrouting priority 0; ip dscp set cs1; }
}
table inet b {
 chain two { type filter hook postrouting priority 0; ip dscp set cs2; }
}
"""
    assert [s.table for s in view(text).base_chains("POSTROUTING")] == ["inet b", "inet a"]
    assert run(text, SYN_ACK).dscp == 8  # the one listed first writes last


JUMPS = """table inet t {
 chain post {
  type filter hook postrouting priority 0; policy accept;
  tcp dport 1000-2000 jump marks
  tcp dport 3000 goto marks
  ip dscp set ef
 }
 chain marks {
  tcp dport 1500 return
  ip dscp set af11
  tcp dport 3000 ip dscp set af12
 }
}
"""


@pytest.mark.parametrize("dport, dscp", [(1500, 46), (1000, 46), (3000, 12), (80, 46)])
def test_jump_returns_goto_does_not(dport, dscp):
    assert run(JUMPS, dict(SYN_ACK, dport=dport)).dscp == dscp


def test_policy_drop_of_a_base_chain_drops():
    text = "table ip f {\n chain fwd {\n  type filter hook forward priority 0; policy drop;\n  tcp dport 25 accept\n }\n}\n"
    packet = {"path": "forward", "in_interface": "eth1", "out_interface": "eth0", "protocol": "tcp", "sport": 1,
              "dport": 26}
    result = run(text, packet)
    assert result.verdict == "drop" and result.steps[-1].action == "policy DROP" and result.steps[-1].line == 3
    assert run(text, dict(packet, dport=25)).verdict == "accept"


def test_may_match_conditions_are_uncertain_in_the_trace():
    text = "table ip t {\n chain o {\n  type filter hook output priority 0;\n  ct state new ip dscp set cs1\n }\n}\n"
    result = run(text, SYN_ACK)
    assert result.dscp == 8 and result.uncertain and "fw.nft:4" in result.uncertain[0]


RICH = """table inet t {
 set hosts { type ipv4_addr; flags interval; elements = { 192.0.2.0/25, 198.51.100.7 } }
 chain pre {
  type filter hook prerouting priority raw; policy accept;
  iifname { "eth1", "wg*" } ip saddr @hosts ip dscp set af41
  ip saddr . tcp dport { 192.0.2.2 . 25, 203.0.113.5 . 80-90 } ip dscp set ef
 }
 chain fwd {
  type filter hook forward priority filter; policy accept;
  ip dscp { af41, ef } tcp sport != { 110, 443 } ip dscp set cs1
  meta l4proto udp th dport vmap { 53 : drop, 123 : jump low }
  oifname != "eth0" ip dscp set 0x02
 }
 chain low { ip dscp set lephb; }
 chain post {
  type filter hook postrouting priority mangle + 5; policy accept;
  ip dscp set tcp dport map { 25 : cs3, 993 : af21 } oifname "eth0" accept
  ip dscp != cs3 ip dscp set cs0
 }
}
"""


def random_packet(rng):
    path = rng.choice(["forward", "output", "input"])
    return Packet.from_dict({
        "path": path, "in_interface": "" if path == "output" else rng.choice(["eth0", "eth1", "wg0"]),
        "out_interface": "" if path == "input" else rng.choice(["eth0", "eth1"]),
        "protocol": rng.choice(["tcp", "udp", "icmp"]),
        "src": rng.choice(["192.0.2.2", "192.0.2.200", "198.51.100.7", "203.0.113.5"]),
        "dst": "198.51.100.2", "sport": rng.choice([110, 443, 1000]), "dport": rng.choice([25, 53, 80, 85, 123, 993]),
        "tos": rng.choice([0, 3, 0x04, 0x88, 0xB8, 0xFF])})


@pytest.mark.parametrize("text", [PARTNER, TWO_CHAINS, JUMPS, RICH], ids=["partner", "two", "jumps", "rich"])
def test_the_marking_map_agrees_with_the_trace_packet_by_packet(text):
    nft = view(text)
    program = Program(nft)
    marks = marking_map(nft, program=program, interfaces=["eth0", "eth1"])
    rng = random.Random(15)
    for _ in range(300):
        packet = random_packet(rng)
        traced = trace(nft, packet, program=program)
        if packet.protocol == 1 and "th dport" in text:
            continue  # th on a protocol without ports: the trace cannot decide
        assert not traced.uncertain
        expected = None if traced.verdict == "drop" else traced.tos
        found = {None if m.verdict == "drop" else (packet.tos & m.keep) ^ m.set for m in marks.packet_marking(packet)}
        assert found == {expected}, (packet, traced.steps)


def collected(platform, name, text, source):
    return {"diffserv_collection": {"platform": platform, "managed": False,
                                    "files": [{"name": name, "source": source, "text": text}]}}


def test_the_founding_incident_in_nft_is_the_same_critical_conflict_as_in_iptables():
    links = [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]
    results = {"partner-fw": collected("nftables", "nft-ruleset", PARTNER, "partner-fw.nft"),
               "border-rtr1": collected("ios", "running-config", ROUTER, "border-router.cfg")}
    fleet = loader.load_fleet(results, links)
    assert fleet.errors == []
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    conflicts = [c.as_dict() for c in findings.conflicts]
    assert {(c["severity"], c["marker"]["line"], c["marker"]["table"], c["marker"]["chain"], c["treatment"]["action"])
            for c in conflicts} == {("critical", 16, "inet partner", "postrouting", "null-routed"),
                                    ("critical", 13, "inet partner", "postrouting", "null-routed")}


def test_the_driver_is_registered_detects_its_text_and_json_and_checks_them():
    driver = platforms.driver("nftables")
    assert platforms.detect(PARTNER) == "nftables"
    assert platforms.detect((ROOT / "tests/fixtures/inputs/nft/partner-fw.json").read_text()) == "nftables"
    summary = driver.check("nft-ruleset", PARTNER, "fw.nft")
    assert (summary["tables"], summary["rules"], summary["families"]) == (["inet partner"], 9, [4, 6])
    loaded = driver.load("fw", {"name": "nft-ruleset", "text": PARTNER, "source": "fw.nft"}, True, ["eth0"],
                         "auto", "auto")
    assert loaded.model.marks.program.stages("POSTROUTING") == (Stage("inet partner", "postrouting", -150),)
    # An inet table is both families: the IPv6 view is joined beside the IPv4 one, with its own map.
    assert [part.family for part in loaded.model.families()] == [4, 6]
    assert loaded.model.ipv6.marks.family == 6 and not any("not yet joined" in note["reason"] for note in loaded.notes)


IPTABLES_NFT_LISTING = """table ip mangle {
	chain POSTROUTING {
		type filter hook postrouting priority mangle; policy accept;
		oifname "eth0" tcp dport 512-65535 counter packets 0 bytes 0 ip6 dscp set 0x01
	}
}
table inet fw {
	chain post {
		type filter hook postrouting priority mangle + 5; policy accept;
		tcp dport 28680 ip dscp set cs3
	}
}
"""
IPTABLES_DUMP = """# Generated by iptables-nft-save v1.8.9 (nf_tables) on Sat Dec  5 20:30:00 2026
*mangle
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04/0xff
COMMIT
# Completed on Sat Dec  5 20:30:00 2026
"""


def test_a_listing_names_the_tables_iptables_nft_manages_and_says_its_translation_may_be_wrong():
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import iptables_nft_tables
    document = parse_nft(IPTABLES_NFT_LISTING, "listed.nft")
    assert iptables_nft_tables(document) == {"ip mangle"}
    assert [(d.line, "iptables-nft's" in d.reason) for d in document.notes] == [(1, True)]


def test_with_the_dump_the_iptables_table_joins_the_native_chains_by_priority():
    from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View
    combined = View(parse_nft(IPTABLES_NFT_LISTING, "listed.nft"), 4, iptables=parse_ruleset(IPTABLES_DUMP, "fw.rules"))
    assert sorted(combined.tables) == ["inet fw", "mangle"]
    assert [(s.table, s.chain, s.priority) for s in combined.base_chains("POSTROUTING")] == [
        ("mangle", "POSTROUTING", -150), ("inet fw", "post", -145)]
    result = trace(combined, Packet.from_dict(dict(SYN_ACK, tos=3)))
    # iptables-nft's TOS clears ECN (mask 0xff), then the native chain writes cs3: the last write wins
    assert [(s.table, s.line, s.tos_after) for s in result.steps] == [("mangle", 4, 0x04), ("inet fw", 10, 0x60)]
    assert combined.header.backend == "nft" and Program(combined).table_backend("mangle") == "nft"
    marks = marking_map(combined, interfaces=["eth0"])
    assert {m.set for m in marks.packet_marking(Packet.from_dict(SYN_ACK))} == {0x60}


@pytest.mark.parametrize("written, conflict", [("1", True), ("lephb", True), ("cs1", False)])
def test_the_founding_byte_is_dscp_1_lephb_not_cs1(written, conflict):
    """TOS 0x04 is DSCP 1, which nft names lephb; cs1 is DSCP 8 (byte 0x20), which ACL 106 (dscp 1) lets pass."""
    text = ('table inet p {\n chain post {\n  type filter hook postrouting priority mangle; policy accept;\n'
            '  oifname "eth0" tcp dport 512-65535 ip dscp set %s\n }\n}\n' % written)
    links = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]
    fleet = loader.load_fleet({"fw": collected("nftables", "nft-ruleset", text, "fw.nft"),
                               "rtr": collected("ios", "running-config", ROUTER, "border-router.cfg")}, links)
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    assert bool(findings.conflicts) == conflict


def test_the_driver_reads_iptables_nft_tables_from_the_dumps_collect_gives_with_the_listing():
    item = {"name": "nft-ruleset", "source": "fw (nft list ruleset)", "text": IPTABLES_NFT_LISTING,
            "iptables": [{"name": "iptables-save", "source": "fw (iptables-save)", "text": IPTABLES_DUMP}]}
    loaded = platforms.driver("nftables").load("fw", item, True, ["eth0"], "auto", "auto")
    marks = loaded.model.marks
    assert [(s.table, s.priority) for s in marks.program.stages("POSTROUTING")] == [("mangle", -150), ("inet fw", -145)]
    (marking,) = marks.packet_marking(Packet.from_dict(SYN_ACK))
    assert (marking.set, marking.writers) == (0x60, (4, 10))
    # without the dump the listing's translation (`ip6 dscp set 0x01` in an ip table) would lose the TOS write
    alone = platforms.driver("nftables").load("fw", dict(item, iptables=None), True, ["eth0"], "auto", "auto")
    assert [m.writers for m in alone.model.marks.packet_marking(Packet.from_dict(SYN_ACK))] == [(10,)]
    assert any("iptables-nft's" in note["reason"] for note in alone.notes)
