"""The kernel is the oracle for native nftables: our predictions against the bytes Linux writes.

Each ruleset (random ones from nftgen.py, and hand-written ones that pin one fact each) is loaded
with ``nft -f`` into the firewall namespace of the lab (netns_lab.py); packets are sent on the
forwarded path (client -> server), the reverse one (server -> client) and the firewall's own output,
and the DS byte is read on arrival (or the packet is missed: dropped). The concrete ``trace`` and
the symbolic marking map must both agree with the kernel, packet by packet, for the ruleset in
three forms: as written, as ``nft list ruleset`` prints it back, and as ``nft -j list ruleset``.

Sizes: DIFFSERV_NFT_RULESETS (default 150) random rulesets of DIFFSERV_NFT_PACKETS (default 40)
packets (18,000 packets, each predicted in three forms); about 15 s.
"""

from __future__ import annotations

import os
import pathlib
import random
import shutil

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset

from . import nftgen, rulegen
from .netns_lab import FirewallLab, LabError, lab_unavailable_reason

_REASON = lab_unavailable_reason() or (None if shutil.which("nft") else "the nft lab needs 'nft' on PATH")
pytestmark = [pytest.mark.kernel, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

RULESETS = int(os.environ.get("DIFFSERV_NFT_RULESETS", "150"))
PACKETS = int(os.environ.get("DIFFSERV_NFT_PACKETS", "40"))
ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests/fixtures/inputs/nft").glob("*.nft")) + sorted(
    (ROOT / "tests/fixtures/real/nft").glob("*.nft"))

LAB_PATHS = {"forward": ("forward", "eth1", "eth0"), "output": ("output", "", "eth0"),
             "reverse": ("forward", "eth0", "eth1")}


class NftLab(FirewallLab):
    """The same three namespaces; rulesets loaded with `nft -f` instead of iptables-restore."""

    def load_nft(self, text: str) -> None:
        self.flush()
        proc = self._ns_exec(self.ns_fw, ["nft", "-f", "-"], input_text=text, check=False)
        if proc.returncode != 0:
            raise LabError("nft -f refused the ruleset: %s\n%s" % (proc.stderr.strip(), text))

    def nft(self, *args: str) -> str:
        return self._ns_exec(self.ns_fw, ["nft", *args]).stdout


@pytest.fixture(scope="module")
def lab():
    with NftLab(timeout=0.05) as running:
        yield running


def our_packet(sent: dict) -> Packet:
    path, in_interface, out_interface = LAB_PATHS[sent["path"]]
    return Packet.from_dict({"path": path, "in_interface": in_interface, "out_interface": out_interface,
                             "protocol": sent["protocol"], "src": sent.get("src"), "dst": sent.get("dst"),
                             "sport": sent["sport"], "dport": sent["dport"], "tos": sent["tos"]})


def predictions(text: str, source: str, packets: list[dict]) -> list[tuple[int | None, list, object]]:
    view = read_ruleset(text, source).view(4)
    program = Program(view)
    marks = marking_map(view, program=program, interfaces=["eth0", "eth1"])
    found = []
    for sent in packets:
        packet = our_packet(sent)
        traced = trace(view, packet, program=program)
        assert not traced.uncertain, traced.uncertain
        concrete = None if traced.verdict == "drop" else traced.tos
        symbolic = sorted({None if m.verdict == "drop" else (packet.tos & m.keep) ^ m.set
                           for m in marks.packet_marking(packet)}, key=lambda v: -1 if v is None else v)
        found.append((concrete, symbolic, traced))
    return found


def _show(value: int | None) -> str:
    return "dropped" if value is None else "0x%02x" % value


def compare(lab: NftLab, name: str, text: str, packets: list[dict]) -> list[str]:
    """Load, send, and compare the kernel's bytes with ours for the written, listed and JSON forms."""
    lab.load_nft(text)
    observed = lab.send(packets)
    forms = {"written": (text, "ruleset.nft"), "listed": (lab.nft("list", "ruleset"), "listed.nft"),
             "json": (lab.nft("-j", "list", "ruleset"), "listed.json")}
    mismatches = []
    for form, (form_text, source) in forms.items():
        for sent, seen, (concrete, symbolic, traced) in zip(packets, observed, predictions(form_text, source, packets)):
            if seen != concrete or symbolic != [concrete]:
                steps = "; ".join("%s/%s:%d %s 0x%02x->0x%02x" % (s.table, s.chain, s.line, s.action, s.tos_before,
                                                                  s.tos_after) for s in traced.steps)
                mismatches.append("%s [%s] %s: kernel %s, trace %s, marking map %s (%s)" % (
                    name, form, sent, _show(seen), _show(concrete), [_show(v) for v in symbolic], steps))
    return mismatches


@pytest.mark.parametrize("seed", range(RULESETS))
def test_random_nft_ruleset_matches_kernel_as_written_listed_and_json(lab, seed):
    rng = random.Random(15_000 + seed)
    text = nftgen.random_ruleset(rng)
    packets = rulegen.random_packets(rng, PACKETS, paths=("forward", "output", "reverse"))
    mismatches = compare(lab, "seed %d" % seed, text, packets)
    assert not mismatches, "\n".join(mismatches[:20]) + "\n\n" + text


def packet(path="forward", protocol="tcp", sport=1000, dport=2000, tos=0, **extra):
    return dict({"path": path, "protocol": protocol, "sport": sport, "dport": dport, "tos": tos,
                 "src": rulegen.DEFAULT_SRC[path], "dst": rulegen.DEFAULT_DST[path]}, **extra)


def expect(lab: NftLab, text: str, cases: list[tuple[dict, int | None]]) -> None:
    """The kernel gives the expected bytes, and both our views give the kernel's."""
    sent = [case for case, _expected in cases]
    mismatches = compare(lab, "hand-written", text, sent)
    seen = lab.send(sent)
    assert [_show(v) for v in seen] == [_show(e) for _p, e in cases]
    assert not mismatches, "\n".join(mismatches)


def test_founding_incident_written_in_nft_leaves_dscp_1_on_the_kernel(lab):
    text = (ROOT / "tests/fixtures/inputs/nft/partner-fw.nft").read_text()
    syn_ack = packet("output", sport=25, dport=28680)
    expect(lab, text, [(syn_ack, 0x04), (packet("output", sport=28680, dport=25), 0x10),
                       (packet("reverse", sport=25, dport=28680), 0x10)])
    traced = trace(read_ruleset(text, "partner-fw.nft").view(4), our_packet(syn_ack))
    assert [(s.table, s.chain, s.priority, s.line) for s in traced.steps] == [("inet partner", "postrouting", -150, 16)]


def test_accept_ends_only_its_own_base_chain_and_the_later_chain_writes_last(lab):
    text = """table inet early {
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
		ip dscp set cs4 tcp dport 23 accept
		ip dscp set cs5
	}
}
"""
    expect(lab, text, [(packet(dport=22), 40 << 2), (packet(dport=23), 32 << 2), (packet(dport=24), 40 << 2)])


def test_drop_in_an_early_base_chain_ends_every_later_one(lab):
    text = """table ip late {
	chain post { type filter hook postrouting priority 10; ip dscp set ef; }
}
table ip early {
	chain forw { type filter hook forward priority 0; udp dport 53 drop; ip dscp set cs1; }
}
"""
    expect(lab, text, [(packet(protocol="udp", dport=53), None), (packet(protocol="udp", dport=54), 46 << 2),
                       (packet("output", protocol="udp", dport=53), 46 << 2)])


def test_same_priority_base_chains_run_in_reverse_order_of_creation(lab):
    text = """table inet a {
	chain one { type filter hook postrouting priority 0; ip dscp set cs1; }
}
table inet b {
	chain two { type filter hook postrouting priority 0; ip dscp set cs2; }
}
"""
    expect(lab, text, [(packet(), 8 << 2), (packet("output"), 8 << 2)])


def test_a_statement_before_a_failing_match_still_runs(lab):
    text = """table ip t {
	chain post { type filter hook postrouting priority 0; ip dscp set af21 tcp dport 80 ip dscp set ef; }
}
"""
    expect(lab, text, [(packet(dport=80), 46 << 2), (packet(dport=81), 18 << 2)])


def test_iifname_in_postrouting_is_the_input_device_when_forwarded_and_empty_for_our_own(lab):
    text = """table inet t {
	chain post {
		type filter hook postrouting priority 0;
		iifname "eth1" ip dscp set cs1
		iifname != "eth*" ip dscp set cs7
	}
}
"""
    expect(lab, text, [(packet(), 8 << 2), (packet("output"), 56 << 2), (packet("reverse"), 0)])


def test_named_priorities_with_offsets_order_the_chains(lab):
    text = """table inet t {
	chain c { type filter hook postrouting priority filter - 3; ip dscp set cs3; }
	chain b { type filter hook postrouting priority mangle + 5; ip dscp set cs2; }
	chain d { type filter hook postrouting priority srcnat; ip dscp set cs4; }
	chain a { type filter hook postrouting priority mangle; ip dscp set cs1 tcp dport 9 ip dscp set cs6; }
}
"""
    expect(lab, text, [(packet(), 32 << 2), (packet(dport=9), 32 << 2)])


def test_dscp_set_keeps_ecn_and_ecn_set_keeps_dscp(lab):
    text = """table ip t {
	chain post {
		type filter hook postrouting priority 0;
		tcp dport 1 ip dscp set ef
		tcp dport 2 ip ecn set ce
		tcp dport 3 ip dscp { cs1, af11 } ip dscp set lephb
	}
}
"""
    expect(lab, text, [(packet(dport=1, tos=0x03), 0xBB), (packet(dport=2, tos=0xB8), 0xBB),
                       (packet(dport=3, tos=0x29), 0x05), (packet(dport=3, tos=0x24), 0x24)])


def test_jump_goto_return_and_verdict_maps(lab):
    text = """table inet t {
	chain post {
		type filter hook postrouting priority 0; policy accept;
		tcp dport vmap { 25 : jump mail, 26 : goto mail, 27 : drop }
		ip dscp set cs1
	}
	chain mail {
		ip dscp set af11
		tcp sport 1 return
		ip dscp set af12
	}
}
"""
    expect(lab, text, [(packet(dport=25), 8 << 2), (packet(dport=25, sport=1), 8 << 2),
                       (packet(dport=26), 12 << 2), (packet(dport=26, sport=1), 10 << 2),
                       (packet(dport=27), None), (packet(dport=28), 8 << 2)])


def test_a_ds_match_then_a_write_then_more_checks_the_match_once_on_the_old_byte(lab):
    text = """table inet t {
	chain post {
		type filter hook postrouting priority 0; policy accept;
		jump sub
		ip dscp set cs5
	}
	chain sub {
		ip dscp cs1 ip dscp set cs2 ip dscp cs2 tcp dport 22 return
		ip dscp cs2 ip dscp set cs3 tcp dport 23 goto tail
		ip dscp != cs3 ip dscp set cs6 ip dscp cs6 accept
	}
	chain tail {
		ip dscp set cs7 udp dport 1 accept
	}
}
"""
    # dport 22 from cs1: cs2, return from sub, cs5 in post. dport 23 from cs1: cs2, cs3, goto tail: cs7, and
    # tail's end returns past sub (a jump would have gone on in sub: cs6), so post writes cs5. dport 24
    # from cs1: cs2, cs3, and `!= cs3` fails: cs5; from 0: cs6, accepted.
    expect(lab, text, [(packet(dport=22, tos=8 << 2), 40 << 2), (packet(dport=23, tos=8 << 2), 40 << 2),
                       (packet(dport=24, tos=8 << 2), 40 << 2), (packet(dport=24, tos=0), 48 << 2)])


def test_iptables_nft_tables_and_native_base_chains_run_by_priority_on_one_hook(lab):
    """A host running both: iptables-nft's mangle (-150) between native chains at -200 and mangle + 5; at an
    equal priority the native chain, created last, runs first. The listing's translation of the TOS rule
    is wrong (nft 1.0.6 prints it as `ip6 dscp set 0x01`), so the combined view reads iptables-save.
    (A packet arriving with ECN bits 11 leaves without them: --set-tos 0x04/0xff clears them, nft's
    dscp set keeps what it finds.)"""
    iptables_text = ("*mangle\n:POSTROUTING ACCEPT [0:0]\n"
                     "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04/0xff\n"
                     "-A POSTROUTING -p udp -j DSCP --set-dscp 3\nCOMMIT\n")
    native = """table inet late {
	chain post { type filter hook postrouting priority mangle + 5; tcp dport 28680 ip dscp set cs3; }
}
table inet early {
	chain post { type filter hook postrouting priority -200; ip dscp set ef; }
}
table inet tie {
	chain post { type filter hook postrouting priority mangle; udp dport 9 ip dscp set cs1; }
}
"""
    lab.flush()
    proc = lab._restore("nft", iptables_text)
    assert proc.returncode == 0, proc.stderr
    proc = lab._ns_exec(lab.ns_fw, ["nft", "-f", "-"], input_text=native, check=False)
    assert proc.returncode == 0, proc.stderr
    cases = [(packet(dport=28680), 24 << 2), (packet(dport=100), 46 << 2), (packet(dport=28680, sport=5, tos=3), 24 << 2),
             (packet(protocol="udp", dport=9), 3 << 2), (packet(protocol="udp", dport=10), 3 << 2),
             (packet("output", dport=28680), 24 << 2), (packet("reverse", dport=28680), 24 << 2)]
    seen = lab.send([sent for sent, _expected in cases])
    assert [_show(v) for v in seen] == [_show(e) for _sent, e in cases]
    listing = lab.nft("list", "ruleset")
    assert "ip6 dscp set 0x01" in listing  # nft's own translation of the TOS rule, which the kernel does not run
    from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import View
    dump = parse_ruleset(lab.save("nft"), "iptables-save")
    view = View(read_ruleset(listing, "listed.nft"), 4, iptables=dump)
    assert [(s.table, s.priority) for s in view.base_chains("POSTROUTING")] == [
        ("inet early", -200), ("inet tie", -150), ("mangle", -150), ("inet late", -145)]
    program = Program(view)
    marks = marking_map(view, program=program, interfaces=["eth0", "eth1"])
    for (sent, expected), kernel in zip(cases, seen):
        ours = our_packet(sent)
        traced = trace(view, ours, program=program)
        assert (traced.tos, not traced.uncertain) == (kernel, True), (sent, traced.steps)
        assert {(ours.tos & m.keep) ^ m.set for m in marks.packet_marking(ours)} == {kernel}
    assert any("share hook POSTROUTING at priority -150" in d.reason for d in view.diagnostics)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_every_nft_fixture_is_accepted_by_nft(lab, path):
    # Debian's sets_and_maps.nft names eth0-eth3 (iif needs the devices): two spare veth pairs, unrouted.
    links = lab._ns_exec(lab.ns_fw, ["ip", "-o", "link"]).stdout
    for name in ("eth2", "eth3"):
        if " %s@" % name not in links and " %s:" % name not in links:
            lab._ns_exec(lab.ns_fw, ["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"])
    lab.flush()
    if "\ndelete table filter\n" in path.read_text():
        lab.nft("add", "table", "ip", "filter")  # the file deletes the table it then rebuilds: it must exist
    proc = lab._ns_exec(lab.ns_fw, ["nft", "-c", "-f", str(path)], check=False)
    assert proc.returncode == 0, proc.stderr
