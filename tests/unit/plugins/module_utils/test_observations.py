"""Symptoms from packet records, and captures tied to the audited fleet (marker, treatment, contradictions).

Records are built here as plain values (the core reads no file); the fleet is the founding example.
The captures of tests/fixtures/captures are read through the controller-side reader where a test
needs a whole file.
"""

import pathlib
import sys

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import loader
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.observations import (
    ACK, ARRIVING, FIN, HANDSHAKE_INCOMPLETE, HANDSHAKE_STALLED, LEAVING, NO_REPLY, OK, ONE_WAY, PSH, RESET,
    RETRANSMITTED, RST, SYN, UNKNOWN, Capture, CaptureSource, PacketRecord, conversations, observe,
)

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventories" / "example" / "files"
FIXTURES = ROOT / "tests" / "fixtures" / "captures"
LINK = [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]
C, S = ("198.51.100.25", 28680), ("203.0.113.25", 25)


def tcp(frame, sender, flags, seq=0, ack=0, payload=0, ds=0, protocol=6, direction=UNKNOWN, mac=None):
    src, sport = sender
    dst, dport = S if sender == C else C
    return PacketRecord(frame, frame / 10.0, 4, src, dst, protocol, sport, dport, ds_byte=ds, ttl=64, length=40 + payload,
                        tcp_flags=flags if protocol == 6 else None, seq=seq if protocol == 6 else None,
                        ack=ack if protocol == 6 else None, payload=payload, direction=direction, src_mac=mac)


def symptoms(*packets):
    capture = Capture("t.pcap", "pcap", (1,), tuple(packets), len(packets))
    return {(d.src, d.sport): d.symptom for c in conversations(capture) for d in c.directions}


def test_syn_ack_never_acknowledged_while_the_syn_is_retransmitted_is_a_stalled_handshake():
    found = symptoms(tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101, ds=4), tcp(3, C, SYN, 100),
                     tcp(4, S, SYN | ACK, 500, 101, ds=4))
    assert found == {C: HANDSHAKE_STALLED, S: HANDSHAKE_STALLED}


def test_syn_ack_unanswered_at_the_end_of_the_capture_is_incomplete_not_stalled():
    found = symptoms(tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101))
    assert found[S] == HANDSHAKE_INCOMPLETE


def test_an_acknowledged_syn_ack_is_ok_even_after_a_retransmitted_syn():
    # The first SYN/ACK was lost beyond the point, the second arrived and was acknowledged: both sides
    # sent a segment twice, and the handshake completed.
    found = symptoms(tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101), tcp(3, C, SYN, 100),
                     tcp(4, S, SYN | ACK, 500, 101), tcp(5, C, ACK, 101, 501))
    assert found == {C: RETRANSMITTED, S: RETRANSMITTED}


def test_syns_without_any_reply_are_no_reply():
    assert symptoms(tcp(1, C, SYN, 100), tcp(2, C, SYN, 100)) == {C: NO_REPLY}


def test_a_reset_is_named_on_the_side_that_sent_it():
    found = symptoms(tcp(1, C, SYN, 100), tcp(2, S, RST | ACK, 0, 101))
    assert found == {C: OK, S: RESET}


def test_a_data_segment_sent_twice_is_retransmitted():
    found = symptoms(tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101), tcp(3, C, ACK, 101, 501),
                     tcp(4, S, PSH | ACK, 501, 101, payload=30), tcp(5, S, PSH | ACK, 501, 101, payload=30),
                     tcp(6, C, ACK, 101, 531))
    assert found == {C: OK, S: RETRANSMITTED}


def test_pure_acks_with_the_same_sequence_are_not_retransmissions():
    found = symptoms(tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101), tcp(3, C, ACK, 101, 501),
                     tcp(4, C, ACK, 101, 501), tcp(5, S, FIN | ACK, 501, 101), tcp(6, C, FIN | ACK, 101, 502))
    assert found == {C: OK, S: OK}


def test_udp_seen_one_way_and_both_ways():
    assert symptoms(tcp(1, C, 0, protocol=17)) == {C: ONE_WAY}
    assert symptoms(tcp(1, C, 0, protocol=17), tcp(2, S, 0, protocol=17)) == {C: OK, S: OK}


def test_a_direction_whose_byte_varies_lists_every_byte_in_order():
    packets = (tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101, ds=4), tcp(3, C, ACK, 101, 501),
               tcp(4, S, ACK, 501, 101, ds=0))
    capture = Capture("t.pcap", "pcap", (1,), packets)
    reply = [d for c in conversations(capture) for d in c.directions if d.src == S[0]][0]
    assert reply.ds_bytes == (4, 0)


# ---------------------------------------------------------------------------
# Tied to the fleet


@pytest.fixture(scope="module")
def fleet():
    results = {"partner-fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "partner-fw.rules", "text": (EXAMPLE / "partner-fw.rules").read_text()}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg", "text": (EXAMPLE / "border-router.cfg").read_text()}]}}}
    return loader.load_fleet(results, LINK)


def stalled(ds=4, direction=UNKNOWN):
    other = {LEAVING: ARRIVING, ARRIVING: LEAVING, UNKNOWN: UNKNOWN}[direction]
    return Capture("failing.pcap", "pcap", (1,), (
        tcp(1, C, SYN, 100, direction=other), tcp(2, S, SYN | ACK, 500, 101, ds=ds, direction=direction),
        tcp(3, C, SYN, 100, direction=other), tcp(4, S, SYN | ACK, 500, 101, ds=ds, direction=direction)), 4)


def working(ds_reply=0, ds_request=0):
    return Capture("working.pcap", "pcap", (1,), (
        tcp(1, C, SYN, 100, ds=ds_request), tcp(2, S, SYN | ACK, 500, 101, ds=ds_reply),
        tcp(3, C, ACK, 101, 501, ds=ds_request)), 3)


def by_src(observed):
    return {o.flow["src"]: o for o in observed.observations}


def test_a_stalled_handshake_leaving_the_firewall_is_tied_to_line_35_and_the_null_route(fleet):
    observed = observe([(CaptureSource("failing.pcap", "partner-fw:eth0"), stalled(direction=LEAVING))],
                       fleet.firewalls, fleet.routers, fleet.links)
    reply = by_src(observed)[S[0]]
    assert (reply.symptom, reply.ds_bytes, reply.frames, reply.direction) == (HANDSHAKE_STALLED, (4,), (2, 4), LEAVING)
    assert reply.predicted_ds_byte == 4
    assert (reply.marker.host, reply.marker.line, reply.marker.table, reply.marker.chain) == (
        "partner-fw", 35, "mangle", "POSTROUTING")
    assert reply.treatment.host == "border-rtr1" and reply.treatment.action == "null-routed"
    assert reply.treatment.unmarked_action == "forwarded"
    assert {line.line for line in reply.treatment.lines} >= {48, 77, 90, 91}
    assert reply.contradiction is None and observed.contradictions == ()
    assert "partner-fw.rules:35" in reply.text and "null-routed" in reply.text
    data = reply.as_dict()
    assert data["ds_byte"] == 4 and "ds_bytes" not in data and data["marker"]["line"] == 35
    assert data["flow"] == {"protocol": "tcp", "src": "203.0.113.25", "dst": "198.51.100.25", "sport": 25, "dport": 28680}
    # The SYNs arrived at the firewall: reported (stalled), neither predicted nor joined to the router.
    request = by_src(observed)[C[0]]
    assert request.direction == ARRIVING and request.marker is None and request.treatment is None


def test_a_capture_taken_with_the_rules_off_contradicts_the_configuration(fleet):
    # The story's working capture: both directions 0x00 where the audited firewall writes 0x04 and 0x10.
    observed = observe([(CaptureSource("working.pcap", "partner-fw:eth0"), working())],
                       fleet.firewalls, fleet.routers, fleet.links)
    assert {(c.flow["src"], c.observed, c.predicted) for c in observed.contradictions} == {
        (S[0], (0,), (4,)), (C[0], (0,), (16,))}
    assert all("working.pcap shows DS byte 0x00" in c.text for c in observed.contradictions)


def test_with_the_direction_unknown_one_consistent_reading_is_taken_and_said(fleet):
    observed = observe([(CaptureSource("failing.pcap", "partner-fw:eth0"), stalled())],
                       fleet.firewalls, fleet.routers, fleet.links)
    found = by_src(observed)
    assert found[S[0]].direction == LEAVING and found[S[0]].marker.line == 35
    assert found[C[0]].direction == ARRIVING and found[C[0]].contradiction is None
    assert any("inferred" in a for a in found[S[0]].assumptions)
    assert observed.contradictions == ()


def test_the_interface_mac_says_which_frames_left(fleet):
    capture = Capture("failing.pcap", "pcap", (1,), (
        tcp(1, C, SYN, 100, mac="02:00:00:00:00:02"), tcp(2, S, SYN | ACK, 500, 101, ds=4, mac="02:00:00:00:01:02")), 2)
    observed = observe([(CaptureSource("failing.pcap", "partner-fw:eth0", "02:00:00:00:01:02"), capture)],
                       fleet.firewalls, fleet.routers, fleet.links, everything=True)
    assert by_src(observed)[S[0]].direction == LEAVING and by_src(observed)[C[0]].direction == ARRIVING


def test_a_byte_the_firewall_cannot_send_is_a_contradiction_and_one_it_can_is_tied_to_its_rule(fleet):
    # The dump is iptables 1.2.9's: its TOS target keeps precedence and sets the TOS bits to 0x04, so a
    # reply leaving by eth0 to a high port always carries 0x04 in bits 4-1: 0x20 is impossible, 0x24
    # is what a reply arriving with precedence 1 (0x20) leaves with.
    impossible = observe([(CaptureSource("failing.pcap", "partner-fw:eth0"), stalled(ds=0x20, direction=LEAVING))],
                         fleet.firewalls, fleet.routers, fleet.links)
    reply = by_src(impossible)[S[0]]
    assert reply.contradiction is not None and reply.marker is None
    assert [(c.observed, c.predicted) for c in impossible.contradictions] == [((0x20,), (0x04,))]
    possible = observe([(CaptureSource("failing.pcap", "partner-fw:eth0"), stalled(ds=0x24, direction=LEAVING))],
                       fleet.firewalls, fleet.routers, fleet.links)
    reply = by_src(possible)[S[0]]
    assert reply.contradiction is None and reply.marker.line == 35 and possible.contradictions == ()


def test_a_capture_at_the_router_is_joined_to_the_linked_firewall(fleet):
    observed = observe([(CaptureSource("failing.pcap", "border-rtr1:GigabitEthernet0/0"), stalled(direction=ARRIVING))],
                       fleet.firewalls, fleet.routers, fleet.links)
    reply = by_src(observed)[S[0]]
    assert reply.marker.line == 35 and reply.treatment.action == "null-routed"
    assert by_src(observed)[C[0]].treatment is None  # left the router: not traced


def test_working_and_failing_captures_at_one_point_are_diffed(fleet):
    observed = observe([(CaptureSource("working.pcap", "partner-fw:eth0"), working()),
                        (CaptureSource("failing.pcap", "partner-fw:eth0"), stalled()),
                        (CaptureSource("elsewhere.pcap", "border-rtr1:GigabitEthernet0/0"), stalled())],
                       fleet.firewalls, fleet.routers, fleet.links)
    assert [(d.working, d.failing, d.fields) for d in observed.capture_diffs] == [
        ("working.pcap", "failing.pcap", ("ds_byte",))]


def test_only_directions_worth_reporting_unless_everything(fleet):
    clean = Capture("clean.pcap", "pcap", (1,), (tcp(1, C, SYN, 100, direction=ARRIVING),
                                                 tcp(2, S, SYN | ACK, 500, 101, ds=0x10, direction=LEAVING),
                                                 tcp(3, C, ACK, 101, 501, direction=ARRIVING)), 3)
    source = CaptureSource("clean.pcap", "partner-fw:eth0")
    # An ok conversation is reported where it contradicts the audit: line 35 writes 0x04 on this reply,
    # never 0x10.  The request arrived, carries 0x00 and is ok: not worth a line unless everything is asked.
    observed = observe([(source, clean)], fleet.firewalls, fleet.routers, fleet.links)
    assert [o.flow["src"] for o in observed.observations] == [S[0]]
    assert len(observe([(source, clean)], fleet.firewalls, fleet.routers, fleet.links, everything=True).observations) == 2


def test_a_point_at_a_host_that_is_not_audited_is_a_problem_not_a_failure(fleet):
    observed = observe([(CaptureSource("failing.pcap", "sw1:Gi1/0/1"), stalled())],
                       fleet.firewalls, fleet.routers, fleet.links)
    assert observed.problems == ("failing.pcap: point sw1:Gi1/0/1: sw1 is not an audited host; its directions are "
                                 "reported as seen",)
    assert {o.symptom for o in observed.observations} == {HANDSHAKE_STALLED}
    assert all(o.marker is None and o.treatment is None for o in observed.observations)


def test_without_links_no_router_is_joined_and_that_is_said(fleet):
    observed = observe([(CaptureSource("failing.pcap", "partner-fw:eth0"), stalled(direction=LEAVING))],
                       fleet.firewalls, fleet.routers, None)
    reply = by_src(observed)[S[0]]
    assert reply.marker.line == 35 and reply.treatment is None
    assert any("no diffserv_links" in a for a in reply.assumptions)


def test_ipv6_directions_are_reported_not_traced(fleet):
    packets = tuple(PacketRecord(i + 1, float(i), 6, src, dst, 6, sp, dp, ds_byte=ds, tcp_flags=flags, seq=1, ack=2)
                    for i, (src, dst, sp, dp, ds, flags) in enumerate([
                        ("2001:db8:1::25", "2001:db8:2::25", 28680, 25, 0, SYN),
                        ("2001:db8:2::25", "2001:db8:1::25", 25, 28680, 4, SYN | ACK)]))
    observed = observe([(CaptureSource("v6.pcap", "partner-fw:eth0"), Capture("v6.pcap", "pcapng", (1,), packets, 2))],
                       fleet.firewalls, fleet.routers, fleet.links)
    reply = by_src(observed)["2001:db8:2::25"]
    assert reply.marker is None and reply.predicted_ds_bytes == ()
    assert any("IPv6" in a for a in reply.assumptions)


def test_capture_source_needs_file_and_host_interface():
    assert CaptureSource.from_mapping({"file": "a.pcap", "point": "fw:eth0", "mac": "02:AA:00:00:00:01"}) == \
        CaptureSource("a.pcap", "fw:eth0", "02:aa:00:00:00:01")
    with pytest.raises(DiffservError, match="needs `file` and `point` as host:interface"):
        CaptureSource.from_mapping({"file": "a.pcap", "point": "fw"})


def test_the_committed_story_captures_through_the_reader(fleet):
    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.diffserv.audit.plugins.plugin_utils.captures import read_capture
    captures = [(CaptureSource(name, "partner-fw:eth0"), read_capture(str(FIXTURES / name), name))
                for name in ("kernel-working.pcap", "kernel-failing-any-sll2.pcap")]
    observed = observe(captures, fleet.firewalls, fleet.routers, fleet.links)
    reply = [o for o in observed.observations if o.capture == "kernel-failing-any-sll2.pcap" and o.flow["sport"] == 25][0]
    assert (reply.direction, reply.ds_bytes, reply.symptom, reply.marker.line, reply.treatment.action) == (
        LEAVING, (4,), HANDSHAKE_STALLED, 35, "null-routed")
    assert [d.fields for d in observed.capture_diffs] == [("ds_byte",)]
    # The kernel's working capture was taken with the rules off: it contradicts the audited dump.
    assert {c.capture for c in observed.contradictions} == {"kernel-working.pcap"}


def test_remembered_traces_still_tell_apart_packets_the_rules_tell_apart(fleet):
    # Traces are remembered per class of packets the rules cannot tell apart: client port 500 is below
    # line 35's 512:65535, port 600 inside it, 40000 inside it too (the same class as 600).
    packets = []
    for index, port in enumerate((500, 600, 40000)):
        packets += [PacketRecord(2 * index + 1, 0.0, 4, C[0], S[0], 6, port, 25, tcp_flags=SYN, seq=1, direction=ARRIVING),
                    PacketRecord(2 * index + 2, 0.1, 4, S[0], C[0], 6, 25, port, ds_byte=4, tcp_flags=SYN | ACK, seq=9,
                                 ack=2, direction=LEAVING)]
    observed = observe([(CaptureSource("ports.pcap", "partner-fw:eth0"), Capture("ports.pcap", "pcap", (1,), tuple(packets)))],
                       fleet.firewalls, fleet.routers, fleet.links)
    replies = {o.flow["dport"]: o for o in observed.observations if o.flow["sport"] == 25}
    # Below the range no rule writes: 0x04 may have arrived so, and no rule is named for it.
    assert replies[500].predicted_ds_byte is None and replies[500].marker is None
    assert replies[500].contradiction is None
    assert replies[600].predicted_ds_byte == 4 and replies[600].marker.line == 35
    assert replies[40000].predicted_ds_byte == 4 and replies[40000].contradiction is None


def test_contradictions_of_many_connections_are_one_entry_with_their_count(fleet):
    packets = []
    for index in range(3):
        port = 40000 + index
        packets += [PacketRecord(2 * index + 1, 0.0, 4, C[0], S[0], 6, port, 25, tcp_flags=SYN, seq=1, direction=ARRIVING),
                    PacketRecord(2 * index + 2, 0.1, 4, S[0], C[0], 6, 25, port, ds_byte=0, tcp_flags=SYN | ACK, seq=9,
                                 ack=2, direction=LEAVING)]
    observed = observe([(CaptureSource("rules-off.pcap", "partner-fw:eth0"),
                         Capture("rules-off.pcap", "pcap", (1,), tuple(packets)))], fleet.firewalls, fleet.routers, fleet.links)
    assert len([o for o in observed.observations if o.contradiction]) == 3
    (contradiction,) = observed.contradictions
    assert (contradiction.directions, contradiction.frames, contradiction.observed, contradiction.predicted) == (
        3, (2, 4, 6), (0,), (4,))
    assert contradiction.as_dict()["directions"] == 3


def test_packets_outside_conversations_are_noted_and_long_frame_lists_are_bounded(fleet):
    icmp = PacketRecord(1, 0.0, 4, C[0], S[0], 1, ds_byte=4)
    long = tuple(tcp(index + 2, S, PSH | ACK, 1000 * index, 1, payload=100, ds=4, direction=LEAVING) for index in range(250))
    observed = observe([(CaptureSource("x.pcap", "partner-fw:eth0"), Capture("x.pcap", "pcap", (1,), (icmp,) + long))],
                       fleet.firewalls, fleet.routers, fleet.links)
    assert observed.notes == ("x.pcap: 1 IP packet(s) neither TCP nor UDP with ports (ICMP, fragments, ...) are not "
                              "grouped into conversations (frames 1)",)
    data = observed.observations[0].as_dict()
    assert data["frame_count"] == 250 and len(data["frames"]) == 200 and data["frames"][0] == 2


def test_packets_the_audited_firewall_drops_seen_leaving_it_are_a_contradiction_naming_the_rule():
    dump = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A FORWARD -p tcp -m tcp --sport 25 -j DROP\nCOMMIT\n")
    results = {"fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "fw.rules", "text": dump}]}}}
    fleet = loader.load_fleet(results, None)
    observed = observe([(CaptureSource("x.pcap", "fw:eth0"), stalled(ds=0, direction=LEAVING))],
                       fleet.firewalls, fleet.routers, fleet.links)
    reply = by_src(observed)[S[0]]
    assert reply.contradiction == "x.pcap shows these packets with DS byte 0x00, but fw as audited drops them (fw.rules:5)"
    assert reply.predicted_ds_bytes == (None,) and reply.treatment is None
    import json
    assert json.loads(json.dumps(observed.as_dict()))["contradictions"][0]["directions"] == 1


def test_keepalives_repeat_by_design_and_are_not_retransmissions():
    handshake = (tcp(1, C, SYN, 100), tcp(2, S, SYN | ACK, 500, 101), tcp(3, C, ACK, 101, 501),
                 tcp(4, C, PSH | ACK, 101, 501, payload=10), tcp(5, S, ACK, 501, 111))
    keepalives = (tcp(6, C, ACK, 110, 501, payload=1), tcp(7, S, ACK, 501, 111),
                  tcp(8, C, ACK, 110, 501, payload=1), tcp(9, S, ACK, 501, 111))
    assert symptoms(*handshake, *keepalives) == {C: OK, S: OK}
    # The same ten bytes sent twice are a retransmission.
    assert symptoms(*handshake, tcp(6, C, PSH | ACK, 101, 501, payload=10))[C] == RETRANSMITTED
