# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The symbolic engine against a plain packet-at-a-time interpreter, on random configurations.

The engine evaluates all 256 bytes at once with masks, pulls tests back
through rewrites and compresses decision lists; the reference below walks
the model objects line by line for one packet, the way the IOS order of
operations reads.  They must agree on every packet: the fate, the byte that
leaves, and the fate table's own answer for that byte.

Where the configuration cannot decide (a `match cos`, a class-map naming a
missing ACL, a DSCP written through a table-map), the reference enumerates
the ways it may be (each such line true or false, several values for the
table) and every outcome it finds must be one the trace lists (its fate or
one under `may`); the plain reading (every such line false) must be the
trace's fate.
"""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from ansible_collections.diffserv.audit.plugins.module_utils.ios import parse_ios, trace_ios, transit_table
from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import Engine
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import Packet, _Judge

ADDRESSES = ["10.0.0.1", "10.0.0.2", "192.0.2.7"]
DSCPS = ["0", "1", "ef", "af11", "cs1", "default", "4"]


# ---------------------------------------------------------------- random configurations
@st.composite
def acl_entry(draw):
    action = draw(st.sampled_from(["permit", "deny"]))
    proto = draw(st.sampled_from(["ip", "tcp", "udp"]))
    src = draw(st.sampled_from(["any", "host 10.0.0.1", "10.0.0.0 0.0.0.255", "host 192.0.2.7"]))
    port = ""
    if proto != "ip" and draw(st.booleans()):
        port = " eq %d" % draw(st.sampled_from([25, 80]))
    ds = draw(st.sampled_from([
        "", "", "", " dscp 1", " dscp ef", " precedence 1", " precedence critical",
        " tos max-reliability", " tos 0", " precedence 0 tos max-reliability",
    ]))
    return "%s %s %s any%s%s" % (action, proto, src, port, ds)


@st.composite
def criterion(draw, acls):
    kind = draw(st.sampled_from(["dscp", "precedence", "acl", "any", "nbar", "not", "cos"]))
    if kind == "cos":
        return "match %scos %d" % (draw(st.sampled_from(["", "not "])), draw(st.integers(0, 7)))
    if kind == "dscp":
        return "match ip dscp %s" % " ".join(draw(st.lists(st.sampled_from(DSCPS), min_size=1, max_size=3, unique=True)))
    if kind == "precedence":
        return "match ip precedence %d" % draw(st.integers(0, 7))
    if kind == "acl":
        return "match access-group %s" % draw(st.sampled_from(acls))
    if kind == "any":
        return "match any"
    if kind == "nbar":
        return 'match protocol http url "*%s*"' % draw(st.sampled_from(["cmd.exe", "root.exe"]))
    return "match not dscp %s" % draw(st.sampled_from(DSCPS))


@st.composite
def class_action(draw):
    kind = draw(st.sampled_from(["set", "setprec", "drop", "police", "queue", "settable"]))
    if kind == "set":
        return ["set ip dscp %s" % draw(st.sampled_from(DSCPS))]
    if kind == "settable":
        return ["set dscp dscp table MAP"]
    if kind == "setprec":
        return ["set ip precedence %d" % draw(st.integers(0, 7))]
    if kind == "drop":
        return ["drop"]
    if kind == "queue":
        return ["bandwidth percent 10"]
    exceed = draw(st.sampled_from(["drop", "transmit", "set-dscp-transmit cs1", "set-prec-transmit 2",
                                   "set-dscp-transmit dscp table policed-dscp"]))
    violate = draw(st.sampled_from(["", " violate-action drop", " violate-action set-dscp-transmit 3",
                                    " violate-action set-prec-transmit precedence table T"]))
    return ["police 8000 conform-action transmit exceed-action %s%s" % (exceed, violate)]


@st.composite
def configuration(draw):
    lines = []
    acls = ["101", "102", "103"]
    for name in acls[:2]:
        for entry in draw(st.lists(acl_entry(), min_size=1, max_size=5)):
            lines.append("access-list %s %s" % (name, entry))
    # 103 stays undefined: missing ACLs have their own semantics.
    for cm in ("C1", "C2"):
        lines.append("class-map %s %s" % (draw(st.sampled_from(["match-any", "match-all"])), cm))
        numbered = draw(st.booleans())
        for position, crit in enumerate(draw(st.lists(criterion(acls), min_size=1, max_size=3))):
            # Some IOS-XE releases print sequence-numbered match statements.
            lines.append((" %d " % (10 * position + 10) if numbered else " ") + crit)
    for pm in ("PIN", "POUT"):
        lines.append("policy-map %s" % pm)
        for cm in draw(st.lists(st.sampled_from(["C1", "C2"]), min_size=0, max_size=2, unique=True)) + ["class-default"]:
            lines.append(" class %s" % cm)
            for action in draw(st.lists(class_action(), min_size=0, max_size=2)):
                lines.extend("  " + a for a in action)
    for seq in draw(st.lists(st.sampled_from([10, 20, 30]), min_size=1, max_size=3, unique=True)):
        lines.append("route-map RM %s %d" % (draw(st.sampled_from(["permit", "permit", "deny"])), seq))
        if draw(st.booleans()):
            lines.append(" match ip address %s" % " ".join(draw(st.lists(st.sampled_from(acls), min_size=1, max_size=2, unique=True))))
        for item in draw(st.lists(st.sampled_from([
                "set interface Null0", "set ip next-hop 192.0.2.1", "set ip precedence 5", "set ip tos max-reliability",
                "set default interface Null0"]), min_size=0, max_size=2, unique=True)):
            lines.append(" " + item)
    lines.append("interface Gi0/0")
    if draw(st.booleans()):
        lines.append(" ip access-group %s in" % draw(st.sampled_from(acls)))
    if draw(st.booleans()):
        lines.append(" service-policy input PIN")
    if draw(st.booleans()):
        lines.append(" ip policy route-map RM")
    lines.append("interface Gi0/1")
    if draw(st.booleans()):
        lines.append(" ip access-group %s out" % draw(st.sampled_from(acls)))
    if draw(st.booleans()):
        lines.append(" service-policy output POUT")
    lines.append("end")
    return "\n".join(lines) + "\n"


@st.composite
def packet(draw):
    return {
        "in_interface": "Gi0/0",
        "out_interface": "Gi0/1",
        "protocol": draw(st.sampled_from(["tcp", "udp", "icmp"])),
        "src": draw(st.sampled_from(ADDRESSES)),
        "dst": "198.51.100.2",
        "sport": 40000,
        "dport": draw(st.sampled_from([25, 80, 443])),
        "tos": draw(st.integers(0, 255)),
        "nbar": draw(st.lists(st.sampled_from(['http url "*cmd.exe*"', 'http url "*root.exe*"']), unique=True)),
        "rate": draw(st.sampled_from(["conform", "exceed", "violate"])),
        "has_route": draw(st.booleans()),
    }


# ---------------------------------------------------------------- the reference interpreter
class Dropped(Exception):
    def __init__(self, fate: str) -> None:
        super().__init__(fate)
        self.fate = fate


def acl_permits(config, name, pkt, byte):
    acl = config.acls.get(name)
    if acl is None or not acl.entries:
        return None
    for entry in acl.entries:
        if (entry.ds_mask >> byte) & 1 and entry.matches_packet(pkt):
            return True if entry.action == "permit" else False
    return False


class World:
    """One way the undecidable parts may be: each may-match criterion line true or false,
    and the DSCP a table-map writes.  The plain world has every such line false."""

    def __init__(self, truths=None, table_dscp=0):
        self.truths = truths or {}
        self.table_dscp = table_dscp
        self.table_used = False  # set when a run meets a table re-mark


def undecidable_lines(config):
    """Lines of class-map criteria the configuration cannot decide for a packet."""
    return sorted({crit.source.line for cm in config.class_maps.values() for crit in cm.criteria
                   if crit.kind == "label" or (crit.kind == "acl" and crit.ref not in config.acls)})


def rewrite(action_rewrite, byte, taint, world):
    """Apply a rewrite; `taint` holds the bits a table wrote (the value then comes from the world)."""
    keep = action_rewrite.keep
    if action_rewrite.unknown:
        world.table_used = True
        written = (world.table_dscp << 2) & ~keep & 0xFF
        return (byte & keep) | written, (taint & keep) | (~keep & 0xFF)
    return (byte & keep) | action_rewrite.value, taint & keep


def class_matches(config, name, pkt, byte, world):
    cm = config.class_maps[name]
    results = []
    for crit in cm.criteria:
        if crit.kind in ("dscp", "precedence"):
            hit = bool((crit.ds_mask >> byte) & 1)
        elif crit.kind == "label":
            hit = world.truths.get(crit.source.line, False)  # a CoS: may be either
        elif crit.kind == "acl" and crit.ref not in config.acls:
            hit = world.truths.get(crit.source.line, False)  # a missing ACL: may-match
        elif crit.kind == "acl":
            hit = bool(acl_permits(config, crit.ref, pkt, byte))
        elif crit.kind == "any":
            hit = True
        elif crit.kind == "nbar":
            hit = crit.text[len("protocol "):] in pkt.nbar
        else:
            raise AssertionError(crit.kind)
        results.append(hit != crit.negate)
    if not results:
        return False
    return all(results) if cm.match_all else any(results)


def apply_policy(config, name, pkt, byte, taint, world):
    for cls in config.policy_maps[name].classes:
        if cls.name != "class-default" and not class_matches(config, cls.name, pkt, byte, world):
            continue
        for action in cls.actions:
            if action.kind == "rewrite":
                byte, taint = rewrite(action.rewrite, byte, taint, world)
            elif action.kind == "drop":
                raise Dropped("dropped")
        for action in cls.actions:
            if action.kind == "police":
                police = action.police
                color = pkt.rate
                if color == "violate" and not police.violate:
                    color = "exceed"
                for act in getattr(police, color):
                    if act.kind == "drop":
                        raise Dropped("dropped")
                    if act.kind == "rewrite":
                        byte, taint = rewrite(act.rewrite, byte, taint, world)
        return byte, taint
    raise AssertionError("no class-default")


def apply_route_map(config, name, pkt, byte, taint):
    for clause in config.route_maps[name].clauses:
        refs = [ref for m in clause.matches for ref in m.refs]
        if refs:
            verdicts = [acl_permits(config, ref, pkt, byte) for ref in refs]
            matched = any(v is None or v for v in verdicts)  # a missing ACL matches every packet
        else:
            matched = True
        if not matched:
            continue
        if not clause.permit:
            return byte, taint, "forwarded"
        route = "forwarded"
        for item in clause.sets:
            if item.kind == "rewrite":
                byte = item.rewrite.apply(byte)
                taint &= item.rewrite.keep
        kinds = {item.kind: item for item in clause.sets}
        if "next-hop" in kinds:
            route = "policy-routed"
        elif "interface" in kinds:
            raise Dropped("null-routed")
        elif "default-interface" in kinds and not pkt.has_route:
            raise Dropped("null-routed")
        return byte, taint, route
    return byte, taint, "forwarded"


def reference(config, pkt, world=None):
    """(fate, byte leaving or None when dropped, bits a table wrote)."""
    world = world or World()
    byte = pkt.tos
    taint = 0
    route = "forwarded"
    gi0, gi1 = config.interfaces["Gi0/0"], config.interfaces["Gi0/1"]
    try:
        if gi0.acl_in and acl_permits(config, gi0.acl_in.name, pkt, byte) is False:
            raise Dropped("dropped")
        if gi0.policy_in:
            byte, taint = apply_policy(config, gi0.policy_in.name, pkt, byte, taint, world)
        if gi0.pbr:
            byte, taint, route = apply_route_map(config, gi0.pbr.name, pkt, byte, taint)
        if gi1.acl_out and acl_permits(config, gi1.acl_out.name, pkt, byte) is False:
            raise Dropped("dropped")
        if gi1.policy_out:
            byte, taint = apply_policy(config, gi1.policy_out.name, pkt, byte, taint, world)
    except Dropped as exc:
        return exc.fate, None, taint
    return route, byte, taint


def possible_outcomes(config, pkt):
    """Every (fate, byte) some world gives; the byte is None when dropped or when a table wrote it."""
    lines = undecidable_lines(config)
    out = set()
    for values in itertools.product((False, True), repeat=len(lines)):
        for table_dscp in (0, 1, 46):
            fate, byte, taint = reference(config, pkt, World(dict(zip(lines, values)), table_dscp))
            out.add((fate, None if fate in ("dropped", "null-routed") or taint else byte))
    return out


def listed_outcomes(result):
    """What the trace says may happen: its fate and every outcome under `may`."""
    def norm(fate, tos_out):
        return fate, None if fate in ("dropped", "null-routed") else tos_out
    return {norm(result["fate"], result["tos_out"])} | {norm(m["fate"], m["tos_out"]) for m in result["may"]}


# ---------------------------------------------------------------- the property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configuration(), st.lists(packet(), min_size=1, max_size=4))
def test_engine_agrees_with_the_reference_interpreter(text, packets):
    config = parse_ios(text, "random.cfg")
    table = transit_table(config, "Gi0/0", "Gi0/1")
    for raw in packets:
        pkt = Packet.from_mapping(raw)
        result = trace_ios(config, raw)
        # Sound: whatever the undecidable lines turn out to be, the trace listed the outcome.
        missing = possible_outcomes(config, pkt) - listed_outcomes(result)
        assert not missing, (text, raw, missing, result["may"])
        plain = World()
        expected_fate, expected_byte, taint = reference(config, pkt, plain)
        if plain.table_used:
            # A table wrote the byte: the plain reading of a later test on it is a choice
            # among the possibilities (checked above), not one the reference can fix.
            continue
        assert result["fate"] == expected_fate, (text, raw, result["steps"])
        if expected_byte is not None:
            assert result["tos_out"] == expected_byte, (text, raw, result["steps"])
        # The table, computed for all 256 bytes at once, must say the same for this byte.
        judge = _Judge(pkt)
        first = next(p for p in table.for_byte(pkt.tos).paths if all(judge.holds(c) for c in p.conditions))
        assert first.action == expected_fate, (text, raw)
        if expected_byte is not None:
            assert first.ds_out(pkt.tos) == expected_byte, (text, raw)


def test_engine_is_reusable_across_tables():
    config = parse_ios("interface Gi0/0\ninterface Gi0/1\nend\n", "x.cfg")
    engine = Engine(config)
    assert engine.fate_table("Gi0/0", "in").classes[0].fate == "forwarded"
    assert engine.transit_table("Gi0/0", "Gi0/1").classes[0].fate == "forwarded"
