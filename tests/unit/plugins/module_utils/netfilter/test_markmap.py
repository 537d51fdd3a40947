"""The symbolic marking map: exact classes, and agreement with the concrete trace."""

import pathlib
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.history import expand_writers
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import MarkingMap, marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import iptables as ipt

from tests.kernel import rulegen

from .test_nat import MANGLE_HEAD

SEED = pathlib.Path(__file__).resolve().parents[5] / "inventories" / "example" / "files" / "partner-fw.rules"
LAB_PATHS = {"forward": ("forward", "eth1", "eth0"), "output": ("output", "", "eth0"),
             "reverse": ("forward", "eth0", "eth1")}


def as_packet(sent):
    path, in_interface, out_interface = LAB_PATHS[sent["path"]]
    return Packet.from_dict(dict(sent, path=path, in_interface=in_interface, out_interface=out_interface))


def test_founding_dump_line_35_decides_dscp_1_out_eth0():
    marks = marking_map(parse_ruleset(SEED.read_text(), "partner-fw.rules"), interfaces=["eth0", "eth1"])
    deciders = {entry["line"]: entry for entry in marks.deciders()}
    line35 = deciders[35]
    assert line35["ds_bytes"] == [0x04] and line35["out_interfaces"] == ["eth0"]
    assert sorted(line35["paths"]) == ["forward", "output"]
    # Line 10 (--sport 1110) and line 24 (--dport 1110) never have the last word: 21 and 35 overwrite them.
    assert 10 not in deciders and 24 not in deciders
    leaving = [m for m in marks.leaving("eth0", path="forward") if m.writers and m.writers[-1] == 35]
    assert {m.unmarked_byte for m in leaving} - {None} == {0x04}
    # Revision 0 (the dump is from iptables 1.2.9): whatever arrived, the TOS bits leave as 0x04.
    # Collected first: all() of an empty sequence is True, and the check must have bytes to check.
    out_bytes = [out for m in leaving for out in m.out_bytes()]
    assert out_bytes and all(out & 0x1E == 0x04 for out in out_bytes)
    assert leaving and all(m.describe()["dport"] != "any" for m in leaving)


def test_marking_map_gives_exact_writer_sequences_after_merging():
    ruleset = parse_ruleset(SEED.read_text(), "partner-fw.rules")
    marks = marking_map(ruleset, interfaces=["eth0", "eth1"])
    packet = Packet.from_dict({"path": "forward", "in_interface": "eth0", "out_interface": "eth0",
                               "protocol": "tcp", "sport": 110, "dport": 993, "tos": 0})
    found = marks.packet_marking(packet)
    assert [m.writers for m in found] == [tuple(s.line for s in trace(ruleset, packet).steps)] == [(9, 26, 35)]


def test_classes_partition_the_header_space():
    ruleset = parse_ruleset(rulegen.random_ruleset(random.Random(5)), "r.rules")
    marks = marking_map(ruleset, backend="nft", era="modern", interfaces=["eth0", "eth1"])
    for path in ("forward", "output", "input"):
        classes = [m for m in marks.markings if m.path == path]
        for first in range(len(classes)):
            for second in range(first + 1, len(classes)):
                a, b = classes[first], classes[second]
                overlap = all(x & y for x, y in zip(a.masks, b.masks))
                assert not overlap or a.assumptions != b.assumptions


def test_unmodeled_match_forks_with_both_assumptions():
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -m conntrack --ctstate NEW -j TOS --set-tos 0x04\nCOMMIT\n")
    marks = marking_map(parse_ruleset(text, "fw.rules"))
    outcomes = {(m.unmarked_byte, m.assumptions) for m in marks.leaving(path="output")}
    assert outcomes == {(0x04, ("matched: fw.rules:7: -m conntrack --ctstate NEW",)),
                        (0x00, ("not matched: fw.rules:7: -m conntrack --ctstate NEW",))}


def test_rewrite_that_keeps_bits_reports_each_arrival():
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j DSCP --set-dscp 1\nCOMMIT\n")
    marks = marking_map(parse_ruleset(text, "fw.rules"))
    (marking,) = marks.leaving(path="output")
    assert marking.unmarked_byte == 0x04 and marking.depends_on_arrival
    assert sorted(marking.out_bytes()) == [0x04, 0x05, 0x06, 0x07]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), backend=st.sampled_from(["legacy", "nft"]),
       era=st.sampled_from(["old", "modern"]), packets=st.integers(0, 10**6))
def test_marking_map_and_trace_agree_on_random_packets(seed, backend, era, packets):
    rng = random.Random(seed)
    text = rulegen.random_ruleset(rng, filter_table=seed % 2 == 0, degenerate=seed % 5 == 0)
    if era == "old":
        # Revision 0 accepts only the five RFC 1349 values for a bare --set-tos.
        text = "\n".join(line for line in text.split("\n")
                         if "--set-tos" not in line or "/" in line.split("--set-tos")[1]
                         or line.split("--set-tos ")[1].split()[0].lower() in
                         ("0x00", "0x02", "0x04", "0x08", "0x10", "0", "2", "4", "8", "16"))
    ruleset = parse_ruleset(text, "r.rules")
    program = Program(ruleset, backend=backend, era=era)
    marks = marking_map(ruleset, program=program, interfaces=["eth0", "eth1"], tables=("raw", "mangle", "filter"))
    for sent in rulegen.random_packets(random.Random(packets), 25, paths=("forward", "output", "reverse")):
        packet = as_packet(sent)
        traced = trace(ruleset, packet, program=program)
        found = marks.packet_marking(packet)
        assert len(found) == 1, (sent, found)
        (marking,) = found
        assert marking.verdict == traced.verdict
        assert (packet.tos & marking.keep) ^ marking.set == traced.tos
        assert marking.writers == tuple(s.line for s in traced.steps if s.action == "write")


def test_input_path_stays_on_the_box():
    marks = marking_map(parse_ruleset(SEED.read_text(), "partner-fw.rules"), interfaces=["eth0"])
    leaving = marks.leaving("eth0")
    # Not vacuous: the map has input-path classes, and packets do leave eth0 (forwarded and sent).
    assert any(m.path == "input" for m in marks.markings)
    assert {m.path for m in leaving} == {"forward", "output"}


@pytest.mark.parametrize("size", [200])
def test_many_chains_and_jumps_stay_exact(size):
    chains = "".join(":C%d - [0:0]\n" % i for i in range(size))
    rules = "".join("-A POSTROUTING -p tcp -m tcp --dport %d -j C%d\n-A C%d -j DSCP --set-dscp %d\n"
                    % (1000 + i, i, i, i % 64) for i in range(size))
    text = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n" + chains + rules + "COMMIT\n")
    ruleset = parse_ruleset(text, "fw.rules")
    marks = marking_map(ruleset)
    for port in (1000, 1057, 1199):
        packet = Packet.from_dict({"path": "output", "out_interface": "eth0", "protocol": "tcp", "sport": 1,
                                   "dport": port, "tos": 0})
        (marking,) = marks.packet_marking(packet)
        assert marking.unmarked_byte == ((port - 1000) % 64) << 2 == trace(ruleset, packet).tos


def test_leaving_without_hairpin_is_leaving_minus_the_hairpin_markings():
    """The join asks for markings that are not forwarded in and out by the link's interface: filtered before
    histories are expanded, the answer is exactly the expanded list without them (random rulesets with -i/-o,
    merged histories and both paths)."""
    left_out = kept_count = 0
    for seed in range(12):
        ruleset = parse_ruleset(rulegen.random_ruleset(random.Random(seed)), "r.rules")
        marks = marking_map(ruleset, interfaces=["eth0", "eth1"])
        for egress in ("eth0", "eth1"):
            atom = marks.interfaces.atom(egress)
            every = marks.leaving(egress)
            kept = [m for m in every if not (m.path == "forward" and m.masks[0] == atom)]
            assert marks.leaving(egress, hairpin=False) == kept
            left_out += len(every) - len(kept)
            kept_count += len(kept)
    # Not vacuous: the seeds give markings of both kinds.
    assert left_out and kept_count


def _rulesets_with_writes():
    """Random dumps of every kind the generators write: mangle alone (with filter, degenerate port ranges),
    with a nat table (SNAT, MASQUERADE, DNAT, REDIRECT, NETMAP) in both families."""
    for seed in range(40):
        rng = random.Random(seed)
        yield "mangle-%d" % seed, parse_ruleset(rulegen.random_ruleset(rng, degenerate=seed % 4 == 0), "r.rules")
        yield "nat-%d" % seed, parse_ruleset(rulegen.random_nat_ruleset(rng), "n.rules")
        yield "nat6-%d" % seed, parse_ruleset(rulegen.random_nat_ruleset6(rng), "n6.rules", family=6)


def test_writer_lines_leaving_are_the_lines_of_the_markings_leaving_there():
    """remark_boundary's words ("after every write on that path (lines ...)"): the lines in the sequence of any
    marking leaving by the interface on the paths, as leaving() expands them, no more (a held class that may
    also leave by another interface gives only its part leaving by this one), no fewer.  Both readings: from what
    each line wrote, where every written piece reaches the end as written, and the walk of the merged histories
    (forced here by saying a REDIRECT moved an interface), on random dumps that use each."""
    read_from_writes = walked = 0
    for name, ruleset in _rulesets_with_writes():
        marks = marking_map(ruleset, interfaces=["eth0", "eth1", "lo"])
        every = marks.leaving(None)
        direct = not marks._out_moved and not any(raw[1] == "drop" and raw[4] for raw in marks._classes)
        for egress in (None, "eth0", "eth1", "lo", "ppp0"):
            atom = marks.interfaces.atom(egress) if egress else marks.interfaces.full
            for paths in (("forward", "output"), ("forward",), ("output",), ("input",)):
                expected = {line for marking in every if marking.path in paths and marking.masks[1] & atom
                            for line in marking.writers if isinstance(line, int)}
                assert marks.writer_lines_leaving(egress, paths) == expected, (name, egress, paths)
                moved = marks._out_moved
                marks._out_moved = True
                try:
                    assert marks.writer_lines_leaving(egress, paths) == expected, (name, egress, paths, "walked")
                finally:
                    marks._out_moved = moved
        read_from_writes += direct
        walked += not direct
    # Not vacuous: the dumps take both readings.
    assert read_from_writes > 20 and walked > 5


def _held_classes(marks):
    """A map's classes as held, each with its merged histories expanded: two maps alike here are the same map."""
    return [(path, verdict, keep, setv, assumptions, masks,
             sorted(expand_writers(masks, writers), key=repr))
            for path, verdict, keep, setv, writers, assumptions, masks in marks._classes]


def _appended(text, egress):
    """The running dump, its map, and the candidate with remark_boundary's rule appended to mangle POSTROUTING."""
    ruleset = parse_ruleset(text, "fw.rules")
    interfaces = [egress] if egress else []
    running = marking_map(ruleset, interfaces=interfaces)
    candidates = ipt._Candidates(text, "fw.rules", ruleset, ipt.clear_rule(egress))
    lines, declared = ipt._mangle_postrouting_lines(ruleset)
    return running, candidates.at(len(lines)), (lines[-1] if lines else declared), interfaces


def test_a_candidate_with_a_rule_appended_resumes_from_the_running_walk_and_is_the_built_map():
    """remark_boundary's first try appends its rule to mangle POSTROUTING: the candidate's map resumes from what
    the running map's build recorded (the classes that walked off the chain's end meet the rule, in order; lines
    after it move down one).  It is the map build() gives, class for class and sub-class for sub-class, with the
    same lines read from the writes, on random dumps whose POSTROUTING holds ACCEPTs, RETURNs, gotos, user chains
    after it, and rules that touch only some classes."""
    resumed = 0
    for seed in range(40):
        text = rulegen.random_ruleset(random.Random(seed), degenerate=seed % 4 == 0)
        for egress in ("eth0", None):
            running, candidate, after, interfaces = _appended(text, egress)
            built = marking_map(candidate, interfaces=interfaces)
            fresh = MarkingMap(Program(candidate, "auto", "auto"), interfaces)
            fresh.build = lambda: pytest.fail("built, not resumed")
            from_running = fresh.with_appended_rule(running, after)
            assert _held_classes(from_running) == _held_classes(built), (seed, egress)
            assert from_running._written == built._written and from_running.class_count == built.class_count
            assert from_running.writer_lines_leaving(egress, ("forward", "output")) == \
                built.writer_lines_leaving(egress, ("forward", "output"))
            resumed += 1
    assert resumed == 80


def test_a_candidate_is_built_in_full_where_the_running_walk_cannot_be_resumed():
    # A nat table applied (classes carry translations), and an unmodelled match (assumptions name lines).
    nat = rulegen.random_nat_ruleset(random.Random(3))
    opaque = MANGLE_HEAD + "-A POSTROUTING -m statistic --mode random --probability 0.5 -j TOS --set-tos 0x04\nCOMMIT\n"
    for text in (nat, opaque):
        running, candidate, after, interfaces = _appended(text, "eth0")
        fresh = MarkingMap(Program(candidate, "auto", "auto"), interfaces)
        calls = []
        build = fresh.build
        fresh.build = lambda: calls.append(1) or build()
        from_running = fresh.with_appended_rule(running, after)
        assert calls == [1]
        assert _held_classes(from_running) == _held_classes(marking_map(candidate, interfaces=interfaces))
