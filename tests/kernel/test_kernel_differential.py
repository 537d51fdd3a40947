"""The kernel is the oracle: our predictions against the bytes Linux writes.

For each ruleset (random ones from rulegen.py, and hand-written ones), on each backend
(iptables-nft and iptables-legacy), in both forms (as written, and as iptables-save prints it
back), packets are sent through a client -> firewall -> server lab of network namespaces and the
DS byte is read on arrival.  Both views of our semantics must agree with it, packet by packet:
the concrete `trace` and the symbolic marking map.

Sizes scale with DIFFSERV_KERNEL_RULESETS and DIFFSERV_KERNEL_PACKETS (defaults: 24 rulesets,
30 packets each: 24 x 30 x 2 backends x 2 forms = 2,880 packets a run).
"""

from __future__ import annotations

import os
import pathlib
import random

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset

from . import rulegen
from .netns_lab import BACKENDS, FirewallLab, lab_unavailable_reason

_REASON = lab_unavailable_reason()
pytestmark = [pytest.mark.kernel, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

RULESETS = int(os.environ.get("DIFFSERV_KERNEL_RULESETS", "24"))
PACKETS = int(os.environ.get("DIFFSERV_KERNEL_PACKETS", "30"))
FIXTURES = pathlib.Path(__file__).parent / "fixtures"

# The lab's paths as the firewall sees them: which interfaces, which hooks.
LAB_PATHS = {
    "forward": ("forward", "eth1", "eth0"),
    "output": ("output", "", "eth0"),
    "reverse": ("forward", "eth0", "eth1"),
}

HAND_WRITTEN = {
    "founding-dump": (FIXTURES / "partner-fw.rules").read_text(),
    "last-write-wins-across-user-chains": """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:MARKS - [0:0]
:LATE - [0:0]
-A FORWARD -j MARKS
-A MARKS -p tcp -m tcp --dport 25 -j DSCP --set-dscp-class AF21
-A MARKS -p tcp -m tcp --dport 25 -j RETURN
-A MARKS -p udp -j TOS --set-tos Maximize-Reliability
-A POSTROUTING -o eth0 -g LATE
-A POSTROUTING -j TOS --set-tos 0x10/0xff
-A LATE -m dscp --dscp-class AF21 -j TOS --or-tos 0x01
-A LATE -m tos ! --tos 0x04/0x1e -j TOS --xor-tos 0x08
COMMIT
""",
    "accept-ends-the-hook-not-the-path": """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:EARLY - [0:0]
-A PREROUTING -p tcp -j EARLY
-A PREROUTING -j TOS --set-tos 0x08
-A EARLY -p tcp -m tcp --sport 20000:65535 -j ACCEPT
-A EARLY -j TOS --set-tos 0x04
-A POSTROUTING -p tcp -m tcp ! --sport 1000 ! --dport 2000 -j TOS --and-tos 0xfc
-A POSTROUTING -p udp -m udp ! --sport 1000 ! --dport 2000 -j DSCP --set-dscp 1
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p udp -m udp --dport 53 -j DROP
COMMIT
""",
}

HAND_PACKETS = [
    {"path": "reverse", "protocol": "tcp", "sport": 25, "dport": 28680, "tos": 0},
    {"path": "forward", "protocol": "tcp", "sport": 28680, "dport": 25, "tos": 0},
    {"path": "output", "protocol": "tcp", "sport": 25, "dport": 28680, "tos": 0},
    {"path": "reverse", "protocol": "tcp", "sport": 443, "dport": 1024, "tos": 0xB8},
    {"path": "forward", "protocol": "udp", "sport": 1000, "dport": 3000, "tos": 0x03},
    {"path": "forward", "protocol": "tcp", "sport": 1000, "dport": 3000, "tos": 0x07},
    {"path": "forward", "protocol": "tcp", "sport": 3000, "dport": 2000, "tos": 0xFF},
    {"path": "forward", "protocol": "udp", "sport": 5353, "dport": 53, "tos": 0x10},
    {"path": "forward", "protocol": "tcp", "sport": 21000, "dport": 25, "tos": 0x00},
    {"path": "output", "protocol": "udp", "sport": 1000, "dport": 2000, "tos": 0x02},
    {"path": "output", "protocol": "udp", "sport": 1000, "dport": 2001, "tos": 0x02},
    {"path": "reverse", "protocol": "udp", "sport": 110, "dport": 25, "tos": 0x1C},
]


@pytest.fixture(scope="module")
def lab():
    with FirewallLab(timeout=0.05) as running:
        yield running


def our_packet(sent: dict) -> Packet:
    path, in_interface, out_interface = LAB_PATHS[sent["path"]]
    return Packet.from_dict({
        "path": path, "in_interface": in_interface, "out_interface": out_interface,
        "protocol": sent["protocol"], "src": sent.get("src"), "dst": sent.get("dst"),
        "sport": sent["sport"], "dport": sent["dport"], "tos": sent["tos"],
    })


def predictions(text: str, backend: str, packets: list[dict]) -> list[tuple[int | None, str, list]]:
    """(byte on arrival or None, how we got it, disagreeing views) for each packet."""
    ruleset = parse_ruleset(text, "ruleset.rules")
    # Rulesets are loaded into a modern kernel: bare --set-tos means mask 0xff whatever the header says.
    program = Program(ruleset, backend=backend, era="modern")
    marks = marking_map(ruleset, program=program, interfaces=["eth0", "eth1"], tables=("raw", "mangle", "filter"))
    found = []
    for sent in packets:
        packet = our_packet(sent)
        traced = trace(ruleset, packet, program=program)
        assert not traced.uncertain, traced.uncertain
        concrete = None if traced.verdict == "drop" else traced.tos
        classes = marks.packet_marking(packet)
        symbolic = sorted({None if m.verdict == "drop" else (packet.tos & m.keep) ^ m.set for m in classes},
                          key=lambda v: -1 if v is None else v)
        found.append((concrete, symbolic, traced))
    return found


def compare(lab: FirewallLab, name: str, text: str, backend: str, packets: list[dict]) -> list[str]:
    lab.load(text, backend)
    observed = lab.send(packets)
    mismatches = []
    for sent, seen, (concrete, symbolic, traced) in zip(packets, observed, predictions(text, backend, packets)):
        if seen != concrete or symbolic != [concrete]:
            steps = "; ".join("line %d %s 0x%02x->0x%02x" % (s.line, s.action, s.tos_before, s.tos_after)
                              for s in traced.steps)
            mismatches.append("%s [%s] %s: kernel %s, trace %s, marking map %s (%s)" % (
                name, backend, sent, _show(seen), _show(concrete), [_show(v) for v in symbolic], steps))
    return mismatches


def _show(value: int | None) -> str:
    return "dropped" if value is None else "0x%02x" % value


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(RULESETS))
def test_random_ruleset_matches_kernel_as_written_and_as_saved(lab, seed, backend):
    rng = random.Random(20261129 + seed)
    text = rulegen.random_ruleset(rng, filter_table=seed % 3 == 0)
    packets = rulegen.random_packets(rng, PACKETS, paths=("forward", "output", "reverse"))
    mismatches = compare(lab, "seed %d as written" % seed, text, backend, packets)
    saved = lab.save(backend)
    # The dump as the tool prints it back, read with the backend its header names.
    assert parse_ruleset(saved, "saved.rules").header.backend == backend
    mismatches += compare(lab, "seed %d as saved" % seed, saved, backend, packets)
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_ruleset_matches_kernel(lab, name, backend):
    text = HAND_WRITTEN[name]
    mismatches = compare(lab, name + " as written", text, backend, HAND_PACKETS)
    saved = lab.save(backend)
    mismatches += compare(lab, name + " as saved", saved, backend, HAND_PACKETS)
    assert not mismatches, "\n".join(mismatches)


def test_founding_syn_ack_leaves_with_dscp_1_on_the_kernel(lab):
    """The partner's SYN/ACK (sport 25 -> the client's ephemeral port) leaves eth0 as 0x04."""
    lab.load(HAND_WRITTEN["founding-dump"], "nft")
    syn_ack = {"path": "output", "protocol": "tcp", "sport": 25, "dport": 28680, "tos": 0}
    assert lab.send([syn_ack]) == [0x04]
    traced = trace(parse_ruleset(HAND_WRITTEN["founding-dump"], "partner-fw.rules"), our_packet(syn_ack),
                   backend="nft", era="modern")
    assert (traced.tos, [step.line for step in traced.steps]) == (0x04, [35])


def test_nft_pair_negation_diverges_from_the_text_as_predicted(lab):
    rule = "-A POSTROUTING -p udp -m udp ! --sport 1000 ! --dport 2000 -j TOS --set-tos 0x04"
    text = HAND_WRITTEN["last-write-wins-across-user-chains"].split("COMMIT")[0].split(":MARKS")[0] \
        + rule + "\nCOMMIT\n"
    packet = {"path": "forward", "protocol": "udp", "sport": 1000, "dport": 3000, "tos": 0}
    seen = {}
    for backend in BACKENDS:
        lab.load(text, backend)
        seen[backend] = lab.send([packet])[0]
        predicted = trace(parse_ruleset(text, "pair.rules"), our_packet(packet), backend=backend)
        assert predicted.tos == seen[backend]
        if backend == "nft":
            assert "NOT(sport == 1000 and dport == 2000)" in predicted.steps[0].note
    assert seen == {"legacy": 0x00, "nft": 0x04}
