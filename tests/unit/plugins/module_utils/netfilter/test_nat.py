"""NAT in the trace and the marking map: hand-written cases, each checked in both views.

The kernel facts behind them are checked in tests/kernel/test_nat_kernel_differential.py.
"""

import ipaddress

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import (
    DPORT, DST, SPORT, SRC, marking_map,
)
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.nat import IfaceAddress, nat_target
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset

MANGLE_HEAD = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" \
              ":POSTROUTING ACCEPT [0:0]\n"
NAT_HEAD = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
FILTER_HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def dump(mangle=(), nat=(), filt=(), extra_nat_chains=()):
    text = MANGLE_HEAD + "".join(line + "\n" for line in mangle) + "COMMIT\n"
    text += NAT_HEAD + "".join(":%s - [0:0]\n" % name for name in extra_nat_chains) \
        + "".join(line + "\n" for line in nat) + "COMMIT\n"
    if filt:
        text += FILTER_HEAD + "".join(line + "\n" for line in filt) + "COMMIT\n"
    return text


def ip(text):
    return int(ipaddress.ip_address(text))


def packet(path="forward", src="10.1.2.3", dst="198.51.100.2", sport=40000, dport=25, protocol="tcp", tos=0,
           in_interface="eth1", out_interface="eth0", family=4):
    data = {"path": path, "protocol": protocol, "src": src, "dst": dst, "sport": sport, "dport": dport, "tos": tos,
            "in_interface": "" if path == "output" else in_interface,
            "out_interface": "" if path == "input" else out_interface}
    return Packet.from_dict(data, family)


def both(text, sent, tables=("mangle", "nat", "filter"), family=4, route=None):
    ruleset = parse_ruleset(text, "fw.rules", family=family)
    program = Program(ruleset, era="modern")
    traced = trace(ruleset, sent, program=program, route=route)
    marks = marking_map(ruleset, program=program, interfaces=["eth0", "eth1"], tables=tables)
    final = Packet(traced.final_path or sent.path, sent.protocol, sent.tos, sent.in_interface,
                   traced.out_interface if traced.final_path else sent.out_interface, sent.src, sent.dst, sent.sport,
                   sent.dport)
    return traced, marks, marks.packet_marking(final)


def test_snat_after_a_mangle_postrouting_tos_write_keeps_the_byte_and_changes_the_source():
    text = dump(mangle=["-A POSTROUTING -s 10.0.0.0/8 -o eth0 -p tcp -j TOS --set-tos 0x04/0xff"],
                nat=["-A POSTROUTING -s 10.0.0.0/8 -o eth0 -j SNAT --to-source 203.0.113.9"])
    traced, marks, found = both(text, packet())
    assert (traced.tos, traced.wire_value("src")) == (0x04, ip("203.0.113.9"))
    assert [(s.table, s.line, s.action) for s in traced.steps] == [("mangle", 7, "write"), ("nat", 14, "SNAT")]
    assert traced.steps[1].note == "SNAT to 203.0.113.9: src 10.1.2.3 -> 203.0.113.9"
    [marking] = found
    described = marking.describe()
    assert (marking.unmarked_byte, marking.writers) == (0x04, (7,))
    assert described["src"] == ["203.0.113.9/32"] and described["arrived"]["src"] == ["10.0.0.0/8"]
    assert described["translated"] == "after SNAT to 203.0.113.9 (line 14)"
    [translation] = marking.translations
    assert (translation.kind, translation.line, translation.hook) == ("SNAT", 14, "POSTROUTING")
    assert described["translations"][0]["src"] == {"from": ["10.0.0.0/8"], "to": ["203.0.113.9/32"]}
    assert described["translations"][0]["assumes"] == (
        "fw.rules:14: the packets open their connections (NEW): a reply to a connection the other side opened is "
        "de-translated instead")
    # The summary says the same, once per outcome.
    [group] = [g for g in marks.summary() if g["writers"] == [7] and g["path"] == "forward" and "translated" in g]
    assert group["translated"] == "after SNAT to 203.0.113.9 (line 14)"
    # A class the SNAT rule does not take (another egress) keeps its source and carries no translation.
    [other] = both(text, packet(out_interface="eth1"))[2]
    assert not other.translations and other.unmarked_byte == 0


def test_dnat_runs_before_a_forward_filter_rule_on_the_translated_address():
    text = dump(nat=["-A PREROUTING -d 203.0.113.80/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.1.1.5:8080"],
                filt=["-A FORWARD -d 10.1.1.5/32 -p tcp -m tcp --dport 8080 -j DROP"],
                mangle=["-A FORWARD -d 10.1.1.5/32 -j DSCP --set-dscp 10"])
    traced, marks, found = both(text, packet(src="198.51.100.2", dst="203.0.113.80", dport=80, in_interface="eth0",
                                             out_interface="eth1"))
    assert traced.verdict == "drop"
    assert [(s.table, s.action) for s in traced.steps] == [("nat", "DNAT"), ("mangle", "write"), ("filter", "drop")]
    [marking] = found
    assert marking.verdict == "drop" and marking.describe()["dst"] == ["10.1.1.5/32"]
    assert marking.describe()["dport"] == ["8080"]
    # The untranslated address passes the filter: no rule names it after the DNAT.
    traced, _marks, found = both(text, packet(src="198.51.100.2", dst="203.0.113.81", dport=80, in_interface="eth0",
                                              out_interface="eth1"))
    assert traced.verdict == "accept" and [m.verdict for m in found] == ["accept"]


def test_masquerade_gives_the_egress_interfaces_address_as_a_placeholder():
    text = dump(mangle=["-A POSTROUTING -p udp -j DSCP --set-dscp 46"],
                nat=["-A POSTROUTING -o eth0 -p udp -j MASQUERADE --to-ports 20000-20100"])
    traced, marks, found = both(text, packet(protocol="udp", sport=53))
    assert traced.wire_value("src") == IfaceAddress("eth0")
    assert traced.wire_value("sport") == (20000, 20100)  # out of the range: the kernel picks one at random
    assert traced.as_dict()["on_wire"] == {"src": "address of eth0", "sport": "20000-20100"}
    [marking] = found
    described = marking.describe()
    assert described["src"] == ["address of eth0"] and described["sport"] == ["20000-20100"]
    assert described["translated"] == "after MASQUERADE to the egress interface's address ports 20000-20100 (line 14)"
    # A port inside the range is kept (the kernel keeps a source port that fits when the tuple is free).
    traced, _marks, found = both(text, packet(protocol="udp", sport=20050))
    assert traced.wire_value("sport") == 20050 and found[0].describe()["sport"] == ["20000-20100"]
    assert [dict(t.before) for t in found[0].translations] == [{SRC: found[0].original_masks[SRC]}]


def test_netmap_maps_each_address_exactly_and_keeps_the_split_a_mangle_rule_made():
    text = dump(mangle=["-A POSTROUTING -s 192.168.1.128/25 -j DSCP --set-dscp 1",
                        "-A POSTROUTING -s 192.168.1.0/25 -j DSCP --set-dscp 2"],
                nat=["-A POSTROUTING -s 192.168.1.0/24 -o eth0 -j NETMAP --to 10.9.9.0/24"])
    for address, wire, dscp in (("192.168.1.7", "10.9.9.7", 2), ("192.168.1.200", "10.9.9.200", 1)):
        traced, marks, found = both(text, packet(src=address))
        assert traced.wire_value("src") == ip(wire) and traced.dscp == dscp
        [marking] = found
        assert marking.describe()["src"] == ["10.9.9.0/25" if dscp == 2 else "10.9.9.128/25"]
        assert marking.translations[0].describe(marks)["src"]["from"] == [
            "192.168.1.0/25" if dscp == 2 else "192.168.1.128/25"]
    # NETMAP in PREROUTING maps the destination, host part kept.
    text = dump(nat=["-A PREROUTING -d 203.0.113.0/28 -j NETMAP --to 10.7.0.16/28"])
    traced, _marks, [marking] = both(text, packet(dst="203.0.113.5"))
    assert traced.wire_value("dst") == ip("10.7.0.21") and marking.describe()["dst"] == ["10.7.0.16/28"]


def test_a_nat_rule_that_never_matches_changes_nothing():
    text = dump(mangle=["-A POSTROUTING -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04/0xff"],
                nat=["-A PREROUTING -p tcp -j RETURN",
                     "-A PREROUTING -p tcp -m tcp --dport 25 -j DNAT --to-destination 10.0.0.25"])
    traced, marks, found = both(text, packet())
    assert not traced.wire and "on_wire" not in traced.as_dict()
    assert all(not m.translations for m in marks.markings)
    plain = marking_map(parse_ruleset(dump(mangle=["-A POSTROUTING -p tcp -m tcp --dport 25 -j TOS --set-tos 0x04/0xff"]),
                                      "fw.rules"), interfaces=["eth0", "eth1"], tables=("mangle",))
    # Same outcomes; only the atoms differ (the unused DNAT target is an atom of its own).
    assert [(g["path"], g["writers"], g["ds_byte"]) for g in marks.summary()] == \
        [(g["path"], g["writers"], g["ds_byte"]) for g in plain.summary()]


def test_dnat_ports_kept_in_range_else_the_first_port_and_redirect_is_delivered_locally():
    text = dump(nat=["-A PREROUTING -i eth0 -p tcp -m tcp --dport 1:5000 -j DNAT --to-destination 10.0.0.9:1000-2000",
                     "-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 3128"])
    for dport, expected in ((1500, 1500), (25, 1000)):
        traced, _marks, [marking] = both(text, packet(dst="203.0.113.5", dport=dport, in_interface="eth0",
                                                      out_interface="eth1"))
        assert (traced.wire_value("dst"), traced.wire_value("dport")) == (ip("10.0.0.9"), expected)
        assert marking.describe()["dport"] == (["1000"] if dport == 25 else ["1000-2000"])
    traced, _marks, [marking] = both(text, packet(dst="203.0.113.5", dport=8080, in_interface="eth0",
                                                  out_interface="eth1"))
    assert (traced.final_path, traced.wire_value("dst"), traced.wire_value("dport")) == (
        "input", IfaceAddress("eth0"), 3128)
    assert marking.path == "input" and marking.describe()["dst"] == ["address of eth0"]


def test_a_route_decides_where_a_dnat_packet_goes():
    text = dump(nat=["-A PREROUTING -p udp -j DNAT --to-destination 192.0.2.50"],
                mangle=["-A POSTROUTING -o eth1 -j DSCP --set-dscp 3"])
    traced = trace(parse_ruleset(text, "fw.rules"), packet(protocol="udp"),
                   route=lambda p: "eth1" if p.dst >> 8 == ip("192.0.2.0") >> 8 else "eth0")
    assert (traced.out_interface, traced.dscp) == ("eth1", 3)
    unrouted = trace(parse_ruleset(text, "fw.rules"), packet(protocol="udp"))
    assert unrouted.out_interface == "eth0" and any("route is not in the dump" in n for n in unrouted.nat_notes)


def test_user_chains_return_and_accept_in_the_nat_table():
    text = dump(nat=["-A POSTROUTING -o eth0 -j OUT_NAT",
                     "-A OUT_NAT -s 10.9.0.0/16 -j RETURN",
                     "-A OUT_NAT -p udp -j ACCEPT",
                     "-A OUT_NAT -s 10.0.0.0/8 -j SNAT --to-source 203.0.113.1-203.0.113.4"],
                extra_nat_chains=["OUT_NAT"])
    cases = [("10.9.1.1", "tcp", None), ("10.1.1.1", "udp", None),
             ("10.1.1.1", "tcp", (ip("203.0.113.1"), ip("203.0.113.4")))]
    for src, protocol, expected in cases:
        traced, _marks, found = both(text, packet(src=src, protocol=protocol))
        assert traced.wire_value("src") == (expected or ip(src))
        assert [m.describe()["src"] for m in found if m.translations] == (
            [["203.0.113.1-203.0.113.4"]] if expected else [])


def test_ip6tables_nat_reads_bracketed_addresses():
    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -d 2001:db8:2::80/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [2001:db8:1::5]:8080\n"
            "-A POSTROUTING -s 2001:db8:1::/64 -o eth0 -j SNAT --to-source 2001:db8:2::9\n"
            "COMMIT\n")
    sent = packet(src="2001:db8:3::1", dst="2001:db8:2::80", dport=80, in_interface="eth0", out_interface="eth1",
                  family=6)
    traced, _marks, [marking] = both(text, sent, family=6)
    assert (traced.wire_value("dst"), traced.wire_value("dport")) == (ip("2001:db8:1::5"), 8080)
    assert marking.describe()["dst"] == ["2001:db8:1::5/128"]
    traced, _marks, [marking] = both(text, packet(src="2001:db8:1::7", dst="2001:db8:2::2", family=6), family=6)
    assert traced.wire_value("src") == ip("2001:db8:2::9") and marking.describe()["src"] == ["2001:db8:2::9/128"]


def test_nat_target_options_are_checked():
    ruleset = parse_ruleset(dump(nat=["-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:70000"]), "fw.rules")
    rule = ruleset.tables["nat"].rules("PREROUTING")[0]
    with pytest.raises(ParseError, match="bad NAT port range"):
        nat_target(rule, 4)


def test_a_dump_without_nat_describes_classes_as_before():
    text = MANGLE_HEAD + "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04/0xff\nCOMMIT\n"
    marks = marking_map(parse_ruleset(text, "fw.rules"), interfaces=["eth0"])
    assert all("translations" not in m.describe() and not m.translations for m in marks.markings)
    assert marks.intervals[SRC].extras == () and not marks.has_nat
    assert {DST, SPORT, DPORT}  # the dimensions a translation may change, with SRC


def test_a_nat_table_past_the_limit_is_left_out_of_the_map_with_a_note_and_the_trace_still_applies_it():
    text = dump(mangle=["-A POSTROUTING -o eth0 -j DSCP --set-dscp 1"],
                nat=["-A POSTROUTING -o eth0 -j SNAT --to-source 203.0.113.9",
                     "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.8"])
    ruleset = parse_ruleset(text, "fw.rules")
    marks = marking_map(ruleset, interfaces=["eth0", "eth1"], nat_limit=1)
    assert not marks.has_nat and all(not m.translations for m in marks.markings)
    assert marks.notes == ["fw.rules:9: the nat table's 2 rules are more than the marking map applies (1): classes "
                           "carry the addresses and ports they arrived with; trace applies them packet by packet"]
    assert trace(ruleset, packet()).wire_value("src") == ip("203.0.113.9")
    # Applied, the map says what it assumes of each NAT rule's connections (replies are de-translated instead).
    assert marking_map(ruleset, interfaces=["eth0"]).notes == [
        "fw.rules:14: SNAT to 203.0.113.9 applies to the packets that open a connection (NEW); the classes of this "
        "map that are replies to such connections (sent back by the host the source was changed to) leave with their "
        "destination de-translated by conntrack, which no rule says and the map does not apply",
        "fw.rules:15: DNAT to 10.0.0.8 applies to the packets that open a connection (NEW); the classes of this map "
        "that are replies to such connections (sent back by the host the destination was changed to) leave with their "
        "source de-translated by conntrack, which no rule says and the map does not apply"]


def test_kube_proxy_endpoints_picked_at_random_are_one_class_each_with_the_assumption_named():
    text = dump(nat=["-A PREROUTING -j KUBE-SERVICES",
                     "-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A",
                     "-A KUBE-SVC-A -m statistic --mode random --probability 0.5 -j KUBE-SEP-1",
                     "-A KUBE-SVC-A -j KUBE-SEP-2",
                     "-A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination 10.244.1.5:8080",
                     "-A KUBE-SEP-2 -p tcp -m tcp -j DNAT --to-destination 10.244.2.7:8080"],
                extra_nat_chains=["KUBE-SERVICES", "KUBE-SVC-A", "KUBE-SEP-1", "KUBE-SEP-2"])
    _traced, marks, found = both(text, packet(dst="10.96.0.10", dport=80, in_interface="eth0"))
    said = "fw.rules:19: -m statistic --mode random; fw.rules:19: -m statistic --probability 0.5"
    described = sorted((m.describe()["dst"], m.assumptions) for m in found)
    assert described == [
        (["10.244.1.5/32"], ("matched: " + said,)), (["10.244.2.7/32"], ("not matched: " + said,))]
    assert all(m.describe()["dport"] == ["8080"] for m in found)


def test_an_address_match_on_an_interfaces_address_may_match_either_way_and_says_so():
    # REDIRECT delivers to the incoming interface's address, which the dump does not give: a filter INPUT rule on
    # the firewall's address may or may not be it.  The trace assumes it matches and says so; the map follows both.
    text = dump(nat=["-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 3128"],
                filt=["-A INPUT -d 198.51.100.1/32 -p tcp -j DROP"])
    traced, marks, found = both(text, packet(dst="203.0.113.5", dport=8080, in_interface="eth0", out_interface="eth1"))
    assert traced.verdict == "drop" and traced.uncertain == ("fw.rules:19: assumed AddrCond matches",)
    said = "fw.rules:19: address match on address of eth0, which the dump does not give"
    assert sorted((m.verdict, m.assumptions) for m in found) == [
        ("accept", ("not matched: " + said,)), ("drop", ("matched: " + said,))]
    # A class whose address is known is decided as before.
    traced, _marks, [plain] = both(text, packet(dst="198.51.100.1", path="input", in_interface="eth0"))
    assert plain.verdict == "drop" and not plain.assumptions


def test_an_nft_view_runs_no_nat_chain_and_the_map_says_so_for_iptables_nat_beside_it():
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset
    listing = "table inet t {\n\tchain post { type filter hook postrouting priority 0; ip dscp set cs1; }\n}\n"
    dump_text = dump(nat=["-A POSTROUTING -o eth0 -j MASQUERADE"])
    view = View(read_ruleset(listing, "listed.nft"), 4, iptables=parse_ruleset(dump_text, "fw.rules"))
    marks = marking_map(view, interfaces=["eth0"])
    assert not marks.has_nat and marks.notes == [
        "fw.rules:8: the iptables nat table beside native nftables tables is not applied: the nftables view runs "
        "no nat chain"]
    assert [m.describe()["src"] for m in marks.markings if m.writers] == ["any", "any"]


def test_random_source_ports_reach_every_merged_sub_class():
    # The mangle rules split UDP by source port (1000-2000 or not) and then write both parts alike, so the two
    # parts merge into one class with a history before nat POSTROUTING.  MASQUERADE --random-fully gives each of
    # them any port of its band: the part that arrived from 28680 leaves from any of 1024-65535, not from its own
    # 2001-65535 (the kernel differential's seed 42 caught the map keeping the sub-class's own ports).
    text = dump(mangle=["-A FORWARD -p udp -m udp --sport 1000:2000 -j DSCP --set-dscp 10",
                        "-A POSTROUTING -j DSCP --set-dscp 0"],
                nat=["-A POSTROUTING -o eth0 -j MASQUERADE --random-fully"])
    traced, marks, found = both(text, packet(protocol="udp", sport=28680))
    assert traced.wire_value("sport") == (1024, 65535)
    [marking] = found
    assert marking.describe()["sport"] == ["1024-65535"]
    assert marking.masks[SPORT] == marks.intervals[SPORT].mask(((1024, 65535),))
