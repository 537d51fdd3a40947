# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables side of remediation: clear the DS field on the way out, where the rule wins.

A firewall at the edge of an administrative domain should not export its private reading of
the DS byte (RFC 2474 section 3: codepoints are meaningful inside one domain).  The rule
`-A POSTROUTING -o <egress> -j DSCP --set-dscp 0x00` does that, but only if it runs after
every TOS and DSCP write on the way out: TOS and DSCP targets do not end the chain and the
last write wins, while an ACCEPT before it would skip it.  So the rule is placed as late as
possible in mangle POSTROUTING and the placement is *proven* with the marking map of the
resulting dump: every class of packets leaving by the egress must leave with DSCP 0.

Standard library only; no `import ansible`.

>>> dump = '''*mangle
... :PREROUTING ACCEPT [0:0]
... :INPUT ACCEPT [0:0]
... :FORWARD ACCEPT [0:0]
... :OUTPUT ACCEPT [0:0]
... :POSTROUTING ACCEPT [0:0]
... -A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04/0xff
... COMMIT
... '''
>>> placed = place_clear_rule(dump, "fw.rules", "eth0")
>>> (placed.position, placed.appended, placed.after_line, placed.writers)
(2, True, 7, (7,))
>>> clear_commands(placed)
(('iptables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0',), ('iptables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0',))
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import (
    Marking, MarkingMap, marking_map,
)
from ansible_collections.diffserv.audit.plugins.module_utils.loader import joined_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset

CHAIN = "POSTROUTING"
_MANGLE_HEADER = ("*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                  ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]")


class PlacementError(DiffservError):
    """No position in mangle POSTROUTING makes every packet leave with DSCP 0."""


@dataclasses.dataclass(frozen=True)
class ClearPlacement:
    """Where the clearing rule goes in one firewall's dump, and what proves it wins.

    `position` is the rule's 1-based index in mangle POSTROUTING once inserted (what
    `iptables -I POSTROUTING <position>` takes); `after_line` is the dump line it follows
    (None when the dump had no mangle table and one is added at its end).  `writers` are the
    lines of every rule that writes the byte of packets leaving by the egress before it:
    the rule comes after all of them.
    """

    egress: str | None
    rule: str
    position: int
    appended: bool
    after_line: int | None
    writers: tuple[int, ...]
    candidate: str
    proof: str


def clear_rule(egress: str | None) -> str:
    """The rule as iptables-save prints it (so a dump taken after the change reads the same)."""
    out = " -o %s" % egress if egress else ""
    return "-A %s%s -j DSCP --set-dscp 0x00" % (CHAIN, out)


def still_marked(marks: MarkingMap, egress: str | None) -> list[Marking]:
    """Classes of packets leaving by `egress` (any when None) whose DSCP may be non-zero.

    A class leaves with (arrived & keep) ^ set; its DSCP is always 0 exactly when neither
    `keep` nor `set` has a bit in the upper six.  ECN bits may stay: the DSCP target keeps
    them, as it should (RFC 3168).
    """
    found = []
    for marking in marks.leaving(egress):
        if marking.path == "input":
            continue
        if (marking.keep | marking.set) & dsfield.DSCP_MASK:
            found.append(marking)
    return found


def _mangle_postrouting_lines(ruleset: Ruleset) -> tuple[list[int], int | None]:
    """Lines of the mangle POSTROUTING rules, and the last chain-declaration line of the table."""
    mangle = ruleset.tables.get("mangle")
    if mangle is None:
        return [], None
    rules = [rule.line for rule in mangle.rules(CHAIN)] if CHAIN in mangle.chains else []
    last_declaration = max(chain.source.line for chain in mangle.chains.values())
    return rules, last_declaration


def _with_rule(text: str, ruleset: Ruleset, index: int, rule: str) -> tuple[str, int | None]:
    """The dump with `rule` inserted after the `index`-th POSTROUTING rule (0: before all of them)."""
    lines = text.split("\n")
    rule_lines, last_declaration = _mangle_postrouting_lines(ruleset)
    if last_declaration is None:
        # No mangle table at all: add one after the last table, as iptables-save would print it.
        end = len(lines)
        while end > 0 and not lines[end - 1].strip():
            end -= 1
        block = list(_MANGLE_HEADER) + [rule, "COMMIT"]
        return "\n".join(lines[:end] + block + lines[end:]) + ("" if text.endswith("\n") else "\n"), None
    after = rule_lines[index - 1] if index > 0 else last_declaration
    mangle = ruleset.tables["mangle"]
    counted = any(r.counters is not None for chain in mangle.chains for r in mangle.rules(chain))
    # iptables-save -c prints counters before each rule; keep the dump's own style.
    line = "[0:0] " + rule if counted else rule
    return "\n".join(lines[:after] + [line] + lines[after:]), after


def _ipv4(text: str, source: str) -> Ruleset:
    """The dump the audit joined (see loader.joined_ruleset); a text without one cannot be planned."""
    ruleset = joined_ruleset(text, source)
    if ruleset is None:
        raise PlacementError("%s: no IPv4 dump: IPv6 changes are not planned yet" % source)
    return ruleset


def place_clear_rule(text: str, source: str, egress: str | None, backend: str = "auto",
                     era: str = "auto") -> ClearPlacement:
    """The latest place in mangle POSTROUTING where the clearing rule leaves every packet at DSCP 0.

    Tries the end of the chain first, then each earlier position; each try is re-evaluated
    with the marking map of the whole resulting dump.  Raises PlacementError when no
    position works (for example an ACCEPT in POSTROUTING before a later TOS write).
    """
    ruleset = _ipv4(text, source)
    interfaces = [egress] if egress else []
    before = marking_map(ruleset, backend, era, interfaces=interfaces)
    writers = sorted({line for marking in before.leaving(egress) if marking.path != "input"
                      for line in marking.writers})
    rule_lines, _last = _mangle_postrouting_lines(ruleset)
    rule = clear_rule(egress)
    tried = []
    for index in range(len(rule_lines), -1, -1):
        candidate, after = _with_rule(text, ruleset, index, rule)
        marks = marking_map(_ipv4(candidate, source), backend, era, interfaces=interfaces)
        left = still_marked(marks, egress)
        if not left:
            where = "leaving by %s" % egress if egress else "leaving by any interface"
            proof = ("marking map of the changed dump: all %d classes of packets %s leave with DSCP 0 "
                     "(%s backend, %s TOS semantics)" % (len(marks.leaving(egress)), where,
                                                         marks.program.backend, marks.program.era))
            return ClearPlacement(egress, rule, index + 1, index == len(rule_lines), after, tuple(writers),
                                  candidate, proof)
        tried.append("after POSTROUTING rule %d: still marked by line(s) %s" % (
            index, ", ".join(str(line) for line in sorted({w for m in left for w in m.writers[-1:]}))))
    raise PlacementError("%s: no position in mangle POSTROUTING clears DSCP on every packet leaving by %s (%s)"
                         % (source, egress or "any interface", "; ".join(tried)))


def clear_commands(placement: ClearPlacement, family: int = 4) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(commands, rollback) for the firewall's shell; the rollback deletes the rule by its spec."""
    tool = "ip6tables" if family == 6 else "iptables"
    spec = ("-o %s " % placement.egress if placement.egress else "") + "-j DSCP --set-dscp 0"
    where = "-A %s" % CHAIN if placement.appended else "-I %s %d" % (CHAIN, placement.position)
    # Deleting by specification (not by number) removes exactly this rule even if the chain
    # was renumbered since.
    return (("%s -t mangle %s %s" % (tool, where, spec),),
            ("%s -t mangle -D %s %s" % (tool, CHAIN, spec),))


def chain_listing(text: str, source: str) -> tuple[str, ...]:
    """The mangle POSTROUTING rules of a dump as iptables-save prints them (the pre- and post-check)."""
    ruleset = _ipv4(text, source)
    mangle = ruleset.tables.get("mangle")
    if mangle is None or CHAIN not in mangle.chains:
        return ("(no rule)",)
    listing = []
    for rule in mangle.rules(CHAIN):
        words = rule.text.split()
        if words and words[0].startswith("["):
            words = words[1:]
        listing.append(" ".join(words))
    return tuple(listing) or ("(no rule)",)
