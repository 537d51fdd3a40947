"""Self-check of the kernel lab: does the oracle itself tell the truth?

Run as root: ``.venv/bin/python -m pytest tests/kernel/test_lab_selfcheck.py -q``.
"""

from __future__ import annotations

import pathlib
import random
import re
import subprocess
import time

import pytest

from . import rulegen
from .netns_lab import (
    BACKENDS,
    DEFAULT_DST,
    DEFAULT_SRC,
    PATHS,
    PREFIX,
    FirewallLab,
    RulesetRejected,
    cleanup_stale_namespaces,
    lab_unavailable_reason,
    normalize_packet,
)
from .rulegen import random_packets, random_ruleset

_REASON = lab_unavailable_reason()
pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(_REASON is not None, reason=_REASON or ""),
]

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
MANGLE_HEAD = (
    "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
)
# Bytes with every ECN combination, precedence bits, RFC 1349 TOS bits and the all-ones byte.
TOS_VALUES = (0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x10, 0x28, 0xB8, 0xBB, 0xFC, 0xFF)


def mangle(*rules: str) -> str:
    return MANGLE_HEAD + "".join(r + "\n" for r in rules) + "COMMIT\n"


def pkt(path: str = "forward", protocol: str = "tcp", sport: int = 40000, dport: int = 80,
        tos: int = 0, **extra: object) -> dict:
    return {"path": path, "protocol": protocol, "sport": sport, "dport": dport, "tos": tos,
            **extra}


def netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


@pytest.fixture(scope="module")
def lab():
    cleanup_stale_namespaces()
    with FirewallLab() as the_lab:
        yield the_lab


# (a) ------------------------------------------------------------------ empty firewall


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_ruleset_keeps_every_byte(lab: FirewallLab, backend: str) -> None:
    """No rules: every packet arrives, with the byte it was sent with, ECN bits included."""
    lab.load(MANGLE_HEAD + "COMMIT\n", backend)
    packets = [pkt(path, proto, 30000 + i, 28680, tos)
               for i, (path, proto, tos) in enumerate(
                   (p, pr, t) for p in PATHS for pr in ("tcp", "udp") for t in TOS_VALUES)]
    assert lab.send(packets) == [p["tos"] for p in packets]


def test_non_default_addresses_arrive(lab: FirewallLab) -> None:
    lab.load(MANGLE_HEAD + "COMMIT\n", "nft")
    packets = [
        pkt("forward", src="203.0.113.5", dst="198.51.100.77", tos=0x04),
        pkt("forward", src="192.0.2.200", dst="203.0.113.9", tos=0x05),
        pkt("output", src="192.0.2.1", dst="198.51.100.200", tos=0x06),
        pkt("reverse", src="203.0.113.5", dst="192.0.2.200", tos=0x07),
    ]
    assert lab.send(packets) == [0x04, 0x05, 0x06, 0x07]


def test_bad_packet_rejected(lab: FirewallLab) -> None:
    with pytest.raises(ValueError):
        lab.send([pkt(tos=256)])
    with pytest.raises(ValueError):
        lab.send([pkt(dst="192.0.2.9")])  # would not cross the firewall
    with pytest.raises(ValueError):
        lab.send([{**pkt(), "dscp": 1}])  # typo'd key


# (b) ------------------------------------------------------------------ rules fire


@pytest.mark.parametrize("backend", BACKENDS)
def test_postrouting_tos_rule(lab: FirewallLab, backend: str) -> None:
    lab.load(mangle("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 "
                    "-j TOS --set-tos 0x04"), backend)
    got = lab.send([
        pkt(dport=28680, tos=0x00),
        pkt(dport=28680, tos=0xBB),   # no mask: 0xff, ECN and precedence cleared
        pkt(dport=25, tos=0x00),
        pkt(dport=25, tos=0xB8),
        pkt("output", dport=28680, tos=0x10),
        pkt("reverse", dport=28680, tos=0x00),  # leaves eth1: unchanged
        pkt(protocol="udp", dport=28680, tos=0x00),
    ])
    assert got == [0x04, 0x04, 0x00, 0xB8, 0x04, 0x00, 0x00]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dscp_target_keeps_ecn_tos_name_keeps_precedence(lab: FirewallLab, backend: str) -> None:
    lab.load(mangle(
        "-A POSTROUTING -p udp -j DSCP --set-dscp 1",
        "-A POSTROUTING -p tcp -j TOS --set-tos Maximize-Reliability",
    ), backend)
    got = lab.send([
        pkt(protocol="udp", tos=0x03),
        pkt(protocol="udp", tos=0xB8),
        pkt(protocol="tcp", tos=0xBB),
        pkt(protocol="tcp", tos=0x00),
    ])
    assert got == [0x07, 0x04, 0x84, 0x04]


@pytest.mark.parametrize("backend", BACKENDS)
def test_founding_dump(lab: FirewallLab, backend: str) -> None:
    """The partner firewall of the founding incident. Its eth0 faces the outside, which in the
    lab is the server side: "forward" and "output" packets leave eth0 (POSTROUTING -o eth0
    rules), "reverse" packets arrive on eth0 (PREROUTING -i eth0 rules) and leave eth1."""
    lab.load((FIXTURES / "partner-fw.rules").read_text(), backend)
    got = lab.send([
        pkt("forward", sport=40000, dport=28680),  # --dport 512:65535 -> 0x04 (DSCP 1)
        pkt("forward", sport=40000, dport=25),     # --dport 25 -> 0x10
        pkt("output", sport=25, dport=28680),      # the relay's own SYN/ACK: 0x04
        pkt("reverse", sport=25, dport=28680),     # -i eth0 --sport 25 -> 0x10
        pkt("reverse", sport=443, dport=40000),    # 0x10, then the later --sport 443 -> 0x08
        pkt("reverse", sport=40000, dport=25),     # -i eth0 --sport 512:65535 -> 0x04
        pkt("reverse", sport=7, dport=7, protocol="udp"),  # no udp rules
    ])
    assert got == [0x04, 0x10, 0x04, 0x10, 0x08, 0x04, 0x00]


@pytest.mark.parametrize("backend", BACKENDS)
def test_drops_give_none(lab: FirewallLab, backend: str) -> None:
    lab.load(mangle("-A FORWARD -p udp -m udp --dport 9 -j DROP",
                    "-A OUTPUT -p tcp -m tcp --dport 9 -j DROP"), backend)
    t0 = time.monotonic()
    got = lab.send([pkt(protocol="udp", dport=9), pkt(protocol="udp", dport=10),
                    pkt("output", dport=9), pkt("output", dport=10)], timeout=0.2)
    elapsed = time.monotonic() - t0
    assert got == [None, 0, None, 0]
    assert elapsed < 1.0


def test_only_one_backend_active(lab: FirewallLab) -> None:
    rule = mangle("-A POSTROUTING -j TOS --set-tos 0x04")
    lab.load(rule, "legacy")
    assert lab.send([pkt()]) == [0x04]
    lab.load(MANGLE_HEAD + "COMMIT\n", "nft")
    assert lab.send([pkt()]) == [0x00]
    lab.load(rule, "nft")
    assert lab.send([pkt()]) == [0x04]
    lab.load(MANGLE_HEAD + "COMMIT\n", "legacy")
    assert lab.send([pkt()]) == [0x00]
    assert "-A POSTROUTING" not in lab.save("nft")


@pytest.mark.parametrize("backend", BACKENDS)
def test_refused_ruleset_raises_with_stderr(lab: FirewallLab, backend: str) -> None:
    with pytest.raises(RulesetRejected) as info:
        lab.load(mangle("-A POSTROUTING -p tcp --dport ! 25 -j TOS --set-tos 0x04"), backend)
    assert info.value.stderr.strip()
    assert info.value.backend == backend
    assert lab.send([pkt()]) == [0x00]  # left empty


# (c) ------------------------------------------------------------------ generated rulesets


@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_rulesets_load_and_round_trip(lab: FirewallLab, backend: str) -> None:
    for seed in range(30):
        rng = random.Random(seed)
        text = random_ruleset(rng)
        lab.load(text, backend)
        saved = lab.save(backend)
        packets = random_packets(rng, 20, paths=PATHS)
        first = lab.send(packets)
        lab.load(saved, backend)  # the saved form is a second, loadable form
        assert strip_comments(lab.save(backend)) == strip_comments(saved), seed
        assert lab.send(packets) == first, seed


def test_generated_rulesets_hit_packets(lab: FirewallLab) -> None:
    """The pools are shared well enough that random rulesets change some bytes."""
    changed = total = 0
    for seed in range(10):
        rng = random.Random(1000 + seed)
        lab.load(random_ruleset(rng), "legacy")
        packets = random_packets(rng, 50)
        for p, got in zip(packets, lab.send(packets)):
            total += 1
            changed += got != p["tos"]
    assert changed > total // 10


def test_rulegen_packets_suit_the_lab() -> None:
    assert rulegen.DEFAULT_SRC == DEFAULT_SRC and rulegen.DEFAULT_DST == DEFAULT_DST
    for p in random_packets(random.Random(11), 2000, paths=PATHS):
        assert normalize_packet(p) == p
    assert normalize_packet({"sport": 1, "dport": 2}) == {
        "path": "forward", "protocol": "tcp", "sport": 1, "dport": 2, "tos": 0,
        "src": "192.0.2.2", "dst": "198.51.100.2"}
    with pytest.raises(ValueError):
        normalize_packet(pkt(src="192.0.2.1"))  # the firewall's own address, forwarded


def test_rulegen_is_deterministic() -> None:
    assert random_ruleset(random.Random(5)) == random_ruleset(random.Random(5))
    assert random_packets(random.Random(5), 9) == random_packets(random.Random(5), 9)


# (d) ------------------------------------------------------------------ backend divergence


def test_nft_pair_negation_divergence(lab: FirewallLab) -> None:
    """``! --sport A ! --dport B``: legacy means sport != A and dport != B; iptables-nft 1.8.9
    compiles one compare of both ports, i.e. not (sport == A and dport == B)."""
    text = mangle("-A POSTROUTING -p udp -m udp ! --sport 1000 ! --dport 2000 "
                  "-j TOS --set-tos 0x04")
    packets = [pkt(protocol="udp", sport=s, dport=d)
               for s, d in ((1000, 3000), (3000, 2000), (1000, 2000), (5, 6))]
    lab.load(text, "legacy")
    assert lab.send(packets) == [0x00, 0x00, 0x00, 0x04]
    lab.load(text, "nft")
    assert lab.send(packets) == [0x04, 0x04, 0x00, 0x04]


def test_full_port_range_negation(lab: FirewallLab) -> None:
    """``! --sport 0:65535``: never matches on legacy, match-all on nft, and legacy-save hides
    the port match (so the saved legacy form matches every packet)."""
    text = mangle("-A POSTROUTING -p udp -m udp ! --sport 0:65535 -j TOS --set-tos 0x04")
    lab.load(text, "legacy")
    assert lab.send([pkt(protocol="udp")]) == [0x00]
    saved = lab.save("legacy")
    assert "--sport" not in saved
    lab.load(saved, "legacy")
    assert lab.send([pkt(protocol="udp")]) == [0x04]
    lab.load(text, "nft")
    assert lab.send([pkt(protocol="udp")]) == [0x04]


def test_interfaces_in_user_chains(lab: FirewallLab) -> None:
    """``-i`` in a chain called from POSTROUTING sees the forwarded packet's in-interface and
    the empty name for a local one; ``-o`` in a chain called from PREROUTING is the empty name."""
    text = MANGLE_HEAD + ":U - [0:0]\n:V - [0:0]\n" + (
        "-A POSTROUTING -j U\n-A U -i eth1 -j TOS --set-tos 0x04\n"
        "-A U ! -i eth+ -j TOS --set-tos 0x08\n"
        "-A PREROUTING -j V\n-A V -o eth0 -j TOS --set-tos 0x0c\n"
        "-A V ! -o eth0 -j TOS --or-tos 0x10\n"
        "COMMIT\n")
    for backend in BACKENDS:
        lab.load(text, backend)
        assert lab.send([pkt("forward"), pkt("output"), pkt("reverse")]) == [0x04, 0x08, 0x10]


# (e) ------------------------------------------------------------------ housekeeping


def test_teardown_leaves_nothing() -> None:
    links_before = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    with FirewallLab() as a_lab:
        names = a_lab.namespaces
        assert set(names) <= set(netns_names())
    assert not set(names) & set(netns_names())
    with pytest.raises(RuntimeError, match="boom"):
        with FirewallLab() as b_lab:
            names = b_lab.namespaces
            raise RuntimeError("boom")
    assert not set(names) & set(netns_names())
    links_after = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    strip = lambda text: sorted(re.sub(r"^\d+: ", "", line).split(":")[0]  # noqa: E731
                                for line in text.splitlines())
    assert strip(links_after) == strip(links_before)


def test_stale_namespaces_are_cleaned() -> None:
    stale = f"{PREFIX}999999999-1-fw"  # no such pid (above pid_max)
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in cleanup_stale_namespaces()
        assert stale not in netns_names()
    finally:
        subprocess.run(["ip", "netns", "delete", stale], capture_output=True)


def test_batch_is_fast(lab: FirewallLab) -> None:
    lab.load(random_ruleset(random.Random(3)), "nft")
    packets = random_packets(random.Random(3), 200)
    # drop-free batch so the timeout does not count
    lab.load(MANGLE_HEAD + "-A POSTROUTING -p tcp -j DSCP --set-dscp 10\nCOMMIT\n", "nft")
    t0 = time.monotonic()
    got = lab.send(packets)
    per_packet = (time.monotonic() - t0) / len(packets)
    assert None not in got
    assert per_packet < 0.005, f"{per_packet * 1000:.2f} ms/packet"
