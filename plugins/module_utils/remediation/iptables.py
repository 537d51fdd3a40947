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
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.analysis import FirewallInput
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.forking import Beside
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import (
    Marking, MarkingMap, appended_marking_map, marking_map,
)
from ansible_collections.diffserv.audit.plugins.module_utils.loader import joined_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import (
    Chain, Rule, Ruleset, Table, parse_dumps, parse_ruleset,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    POST, PRE, Action, Check, HostChange, Stage, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Firewall, Fleet

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
    # The candidate as the proof read it: its parsed dump (mangle alone, see _Candidates) and its
    # marking map, so the next egress's placement and the re-audit read them instead of the text.
    candidate_ruleset: Ruleset | None = dataclasses.field(default=None, compare=False, repr=False)
    candidate_marks: MarkingMap | None = dataclasses.field(default=None, compare=False, repr=False)


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
    # Asked of the classes as the map holds them: nothing is expanded when every class is clear.
    return marks.leaving_where(_may_mark, egress)


def _mangle_postrouting_lines(ruleset: Ruleset) -> tuple[list[int], int | None]:
    """Lines of the mangle POSTROUTING rules, and the last chain-declaration line of the table."""
    mangle = ruleset.tables.get("mangle")
    if mangle is None:
        return [], None
    rules = [rule.line for rule in mangle.rules(CHAIN)] if CHAIN in mangle.chains else []
    last_declaration = max(chain.source.line for chain in mangle.chains.values())
    return rules, last_declaration


def _rule_line(ruleset: Ruleset, rule: str) -> str:
    """The rule as it goes into this dump: iptables-save -c prints counters before each rule; keep the dump's own style."""
    mangle = ruleset.tables["mangle"]
    counted = any(r.counters is not None for chain in mangle.chains for r in mangle.rules(chain))
    return "[0:0] " + rule if counted else rule


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
    after = _line_before(rule_lines, last_declaration, index)
    return "\n".join(lines[:after] + [_rule_line(ruleset, rule)] + lines[after:]), after


def _line_before(rule_lines: list[int], last_declaration: int, index: int) -> int:
    """The dump line a rule inserted after the `index`-th POSTROUTING rule follows (0: the table's last chain
    declaration)."""
    return rule_lines[index - 1] if index > 0 else last_declaration


class _CandidateTable(Table):
    """A parsed table as the parser reads it with one more rule line: the other rules are not read again.

    Each rule the dump has keeps its parsed form; only where it stands moves: rules on later lines
    are one line further down, and the rules after the new one in its chain one place further on.
    Diagnostics are not carried over: the proof (a marking map) does not read them.
    """

    def __init__(self, base: Table, rule: Rule) -> None:
        super().__init__(base.name, base.source, base.family)
        at = rule.line  # the new line's number; every line from here on moves one down

        def moved(old: Rule, extra_index: int = 0) -> Rule:
            if old.line < at and not extra_index:
                return old
            line = old.line + 1 if old.line >= at else old.line
            return dataclasses.replace(old, source=old.source._replace(line=line), index=old.index + extra_index)

        rules: dict[str, tuple[Rule, ...]] = {}
        for name, chain_rules in base.parsed().items():
            if name != rule.chain:
                rules[name] = tuple(moved(r) for r in chain_rules)
                continue
            before = [r for r in chain_rules if r.line < at]
            rules[name] = tuple(before) + (dataclasses.replace(rule, index=len(before) + 1),) + tuple(
                moved(r, 1) for r in chain_rules[len(before):])
        self.chains = {name: chain._replace(source=chain.source._replace(line=chain.source.line + 1))
                       if chain.source.line >= at else chain for name, chain in base.chains.items()}
        if rule.chain not in rules:
            # The dump's mangle table has no POSTROUTING line: the rule declares the chain, as in
            # iptables-restore (built in, policy ACCEPT), after every declaration it follows.
            rules[rule.chain] = (dataclasses.replace(rule, index=1),)
            self.chains[rule.chain] = Chain(rule.chain, True, "ACCEPT", None, rule.source)
        self._candidate = rules
        self.commit_line = base.commit_line + 1 if base.commit_line is not None and base.commit_line >= at \
            else base.commit_line

    def parsed(self) -> dict[str, tuple[Rule, ...]]:
        return self._candidate

    @property
    def rule_count(self) -> int:
        return sum(len(r) for r in self._candidate.values())


class _Candidates:
    """The candidate dumps of one firewall, one per position tried, as parsed models.

    The clearing rule is parsed once, on its own; each candidate is the parsed mangle table with
    that rule inserted (_CandidateTable), so a 100,000-rule dump is not tokenised again for every
    position.  The marking map reads only mangle, so the candidate holds only mangle.  That is
    exact when the chain's order is its line order, which is what iptables-save writes (`-A`
    only); a hand-written chain with `-I` (or another spelling of the command) is read again from
    the candidate text instead, as is a dump with no mangle table (one position only).
    """

    def __init__(self, text: str, source: str, ruleset: Ruleset, rule: str) -> None:
        self.text, self.source, self.ruleset, self.rule = text, source, ruleset, rule
        self.parsed_rule: Rule | None = None
        mangle = ruleset.tables.get("mangle")
        if mangle is None or not mangle.chains:
            return
        if CHAIN in mangle.chains and not all(_appended(r) for r in mangle.rules(CHAIN)):
            return
        alone = "\n".join(_MANGLE_HEADER + (_rule_line(ruleset, rule), "COMMIT", ""))
        self.parsed_rule = parse_ruleset(alone, source, family=ruleset.family).tables["mangle"].rules(CHAIN)[0]

    def at(self, index: int) -> Ruleset:
        """The candidate with the rule after the `index`-th POSTROUTING rule (0: before all of them)."""
        if self.parsed_rule is None:
            return _dump(_with_rule(self.text, self.ruleset, index, self.rule)[0], self.source, self.ruleset.family)
        rule_lines, last_declaration = _mangle_postrouting_lines(self.ruleset)
        after = _line_before(rule_lines, t.cast(int, last_declaration), index)
        rule = dataclasses.replace(self.parsed_rule, source=self.parsed_rule.source._replace(line=after + 1))
        ruleset = self.ruleset
        header = ruleset.header
        if header.line is not None and header.line > after:
            header = dataclasses.replace(header, line=header.line + 1)
        return Ruleset(file=ruleset.file, family=ruleset.family, header=header,
                       tables={"mangle": _CandidateTable(ruleset.tables["mangle"], rule)},
                       comments=[c._replace(line=c.line + 1) if c.line > after else c for c in ruleset.comments],
                       notes=[], lines=(ruleset.lines[0], ruleset.lines[1] + 1))


def _appended(rule: Rule) -> bool:
    """Whether the rule was written `-A POSTROUTING ...` (its place in the chain is its place in the file)."""
    words = rule.text.split(None, 3)
    if words and words[0].startswith("["):
        words = words[1:]
    return words[:2] == ["-A", CHAIN]


def _ipv4(text: str, source: str) -> Ruleset:
    """The dump the audit joined (see loader.joined_ruleset); a text without one cannot be planned."""
    ruleset = joined_ruleset(text, source)
    if ruleset is None:
        raise PlacementError("%s: no IPv4 dump: IPv6 changes are not planned yet" % source)
    return ruleset


def _dump(text: str, source: str, family: int) -> Ruleset:
    """A candidate text read as the dump it changes: the IPv4 one (_ipv4), or its IPv6 one, as the audit read it
    (the last, as ip6tables-restore leaves it loaded): the IPv6 dump of a saved file holding both families, or an
    ip6tables-save text read as IPv6."""
    if family != 6:
        return _ipv4(text, source)
    found = [ruleset for ruleset in parse_dumps(text, source) if ruleset.family == 6]
    return found[-1] if found else parse_dumps(text, source, family=6)[-1]


def _may_mark(path: str, keep: int, setv: int, _byte_mask: int) -> bool:
    """Forwarded or sent out with a DSCP that may be non-zero."""
    return path != "input" and bool((keep | setv) & dsfield.DSCP_MASK)


def place_clear_rule(text: str, source: str, egress: str | None, backend: str = "auto",
                     era: str = "auto", ruleset: Ruleset | None = None, before: MarkingMap | None = None,
                     ) -> ClearPlacement:
    """The latest place in mangle POSTROUTING where the clearing rule leaves every packet at DSCP 0.

    Tries the end of the chain first, then each earlier position; each try is re-evaluated
    with the marking map of the resulting dump (built from the parsed dump, see _Candidates).
    Raises PlacementError when no position works (for example an ACCEPT in POSTROUTING before
    a later TOS write).  `ruleset` is the text's IPv4 dump already parsed (the audit's, or an
    earlier placement's candidate_ruleset) and `before` its marking map under the same backend and
    TOS semantics: given, the text is not read again.
    """
    ruleset = ruleset if ruleset is not None else _ipv4(text, source)
    interfaces = [egress] if egress else []
    before = before if before is not None else marking_map(ruleset, backend, era, interfaces=interfaces)
    known = before
    # The lines that write the byte on the way out (for the proof's words) and the candidates' maps are
    # independent: on a big dump (a 100,000-rule dump takes a second for each) a forked child walks the first,
    # where it must be walked (MarkingMap.writes_reach_the_end: else it is read in milliseconds, no child needed).
    writer_lines = Beside(lambda: known.writer_lines_leaving(egress, ("forward", "output")),
                          0 if known.writes_reach_the_end else len(text))
    try:
        return _placed(text, source, egress, backend, era, ruleset, interfaces, writer_lines, known)
    finally:
        writer_lines.close()


def _placed(text: str, source: str, egress: str | None, backend: str, era: str, ruleset: Ruleset,
            interfaces: list[str], writer_lines: Beside[set[int]], before: MarkingMap) -> ClearPlacement:
    rule_lines, last_declaration = _mangle_postrouting_lines(ruleset)
    rule = clear_rule(egress)
    candidates = _Candidates(text, source, ruleset, rule)
    tried = []
    for index in range(len(rule_lines), -1, -1):
        candidate_ruleset = candidates.at(index)
        if index == len(rule_lines) and candidates.parsed_rule is not None and last_declaration is not None:
            # The rule appended to the chain, which is where it usually wins: the map resumes from the running
            # map's walk (the chain's classes that walked off its end meet the rule; the rest end as they did).
            marks = appended_marking_map(before, candidate_ruleset, _line_before(rule_lines, last_declaration, index),
                                         backend, era, interfaces=interfaces)
        else:
            marks = marking_map(candidate_ruleset, backend, era, interfaces=interfaces)
        # Expanding the classes of a big map is where the time goes: only the classes still marked
        # are expanded (none, once the position is right), and the proof counts the others.
        left = still_marked(marks, egress)
        if not left:
            candidate, after = _with_rule(text, ruleset, index, rule)
            where = "leaving by %s" % egress if egress else "leaving by any interface"
            proof = ("marking map of the changed dump: all %d classes of packets %s leave with DSCP 0 "
                     "(%s backend, %s TOS semantics)" % (marks.count_leaving(egress), where, marks.program.backend,
                                                         marks.program.era))
            return ClearPlacement(egress, rule, index + 1, index == len(rule_lines), after,
                                  tuple(sorted(writer_lines.value())), candidate, proof, candidate_ruleset, marks)
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


def chain_listing(text: str, source: str, ruleset: Ruleset | None = None) -> tuple[str, ...]:
    """The mangle POSTROUTING rules of a dump as iptables-save prints them (the pre- and post-check);
    `ruleset`, when given, is the text's IPv4 dump already parsed."""
    ruleset = ruleset if ruleset is not None else _ipv4(text, source)
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


# ---------------------------------------------------------------------- remark_boundary's writer
# What remark_boundary asks a firewall platform's writer (platforms/base.py `firewall_writer`): the host's
# change, and the window it opens; APPLY names how remediate loads it (plugins/plugin_utils/session.py).
APPLY = "iptables-restore"


def boundary_change(firewall: Firewall, here: t.Sequence[Conflict], egresses: set[str | None],
                    fleet: Fleet) -> HostChange:
    """A DSCP-clearing rule per egress (None: every egress) in mangle POSTROUTING, placed and proved by
    place_clear_rule; the commands, rollback and checks; the candidate's model remembered for the re-audit."""
    host = firewall.host.host
    unknown_egress = None in egresses
    if unknown_egress:
        egresses = {None}
    text = firewall.host.text
    source = firewall.host.source
    actions: list[Action] = []
    commands: list[str] = []
    rollback: list[str] = []
    notes: list[str] = []
    stages: list[Stage] = []
    checks: list[Check] = []
    # Each family with conflicts here is cleared in its own dump of this text: the dump the strategies plan from,
    # and, in a saved file that holds both (iptables-save then ip6tables-save output), the other family's dump of
    # the same file, each with its own tool.
    families = sorted({conflict.family for conflict in here}) or [firewall.ruleset.family]
    planned: dict[int, tuple[Ruleset, MarkingMap]] = {}
    for family in families:
        # The audit's parsed dump and marking map, then each placement's candidate: the dump is not read again,
        # unless a placement in the other family's dump moved its lines.
        audited = _same_file_part(firewall, family)
        if audited is None:
            notes.append("%s: no IPv%d dump in this text to clear the DS field of its IPv%d packets: not planned for "
                         "them" % (source, family, family))
            continue
        ruleset: Ruleset = audited[0] if text == firewall.host.text else _dump(text, source, family)
        marks: MarkingMap | None = audited[1] if text == firewall.host.text else None
        before_text, before_ruleset = text, ruleset
        for out in sorted(egresses, key=lambda e: e or ""):
            try:
                placement = place_clear_rule(text, source, out, firewall.backend, firewall.era,
                                             ruleset=ruleset, before=marks)
            except PlacementError as error:
                notes.append(str(error))
                continue
            text = placement.candidate
            ruleset = t.cast(Ruleset, placement.candidate_ruleset)
            marks = t.cast(MarkingMap, placement.candidate_marks)
            do, undo = clear_commands(placement, family)
            commands.extend(do)
            rollback[:0] = undo
            actions.extend(_request_actions(firewall, here, placement))
            notes.append(placement.proof)
        if text != before_text:
            planned[family] = (ruleset, t.cast(MarkingMap, marks))
            checks.extend(_boundary_checks(before_text, text, source, before_ruleset, ruleset, family))
    if unknown_egress:
        notes.append("the interface towards the routers is not known (no diffserv_links): the rule clears the "
                     "DSCP of packets leaving by every interface; give diffserv_links to limit it to one")
    if text != firewall.host.text:
        stages.append(Stage("clear the DS field on the way out, after every write", text))
        if len(families) == 1 and firewall.ruleset.family in planned:
            # The re-audit of this candidate reads the model the last proof built (a text of both families is
            # read again there: its other dump's lines moved).
            ruleset, marks = planned[firewall.ruleset.family]
            fleet.remember(firewall.host, text, FirewallInput(host, source, ruleset, marks, firewall.host.managed,
                                                              family=ruleset.family))
    return HostChange(host, firewall.host.platform, firewall.host.managed, firewall.host.source, firewall.host.text,
                      tuple(stages), actions=tuple(actions), notes=tuple(notes), commands=tuple(commands),
                      rollback=tuple(rollback), command_blocks=(tuple(commands),) if commands else (),
                      checks=tuple(checks) if stages else (), family=firewall.ruleset.family)


def _same_file_part(firewall: Firewall, family: int) -> tuple[Ruleset, MarkingMap] | None:
    """The audited dump of `family` in the firewall's own text, with its marking map: the one the strategies plan
    from, or the other family's dump of a saved file holding both; None when the text has none."""
    if firewall.ruleset.family == family:
        return firewall.ruleset, firewall.marks
    other = firewall.model.ipv6 if firewall.model is not None and family == 6 else None
    if other is None or other.file != firewall.host.source or firewall.host.ipv6 is not None:
        return None
    return other.ruleset, other.marks


def _boundary_checks(before: str, after: str, source: str, before_ruleset: Ruleset, after_ruleset: Ruleset,
                     family: int) -> list[Check]:
    # iptables-save prints what the audit read, in every era (iptables 1.2 has no -S); ip6tables-save an
    # IPv6 dump.
    tool = "ip6tables" if family == 6 else "iptables"
    listing = "%s-save -t mangle | grep -e '^-A %s '" % (tool, CHAIN)
    return [
        Check(PRE, listing, chain_listing(before, source, before_ruleset),
              "the chain is as audited: the rule position in the commands depends on it"),
        Check(POST, listing, chain_listing(after, source, after_ruleset),
              "the clearing rule is in place, after every TOS and DSCP write"),
        Check(POST, "%s -t mangle -L POSTROUTING -v -n --line-numbers" % tool, ("DSCP set 0x00",),
              "the packet counter of the DSCP rule grows as traffic leaves"),
    ]


def boundary_window(change: HostChange) -> Window:
    return Window(between="%s, one command" % change.host, meanwhile="no window: one rule is inserted",
                  order="inserted after every rule that writes the byte, so it has the last word")


def _request_actions(firewall: Firewall, conflicts: t.Sequence[Conflict], placement: ClearPlacement) -> list[Action]:
    rules = sorted({(c.marker.line, c.marker.rule) for c in conflicts if c.marker.host ==
                    firewall.host.host})
    actions = [Action("keep", "the rules that write the DS byte", tuple(rules),
                      "they write legacy TOS values that routers read as DSCPs; they may stay, the new rule runs "
                      "after them")] if rules else []
    after = placement.after_line
    shown = ((after, firewall.host.text.split("\n")[after - 1]),) if after else ()
    why = "clears the DSCP of every packet leaving by %s; it goes after the line shown, after every write on that " \
          "path (lines %s)" % (placement.egress or "any interface", line_ranges(placement.writers))
    actions.append(Action("add", placement.rule, shown, why))
    return actions


def line_ranges(lines: t.Sequence[int]) -> str:
    """[9, 10, 11, 23] -> '9-11, 23'."""
    runs: list[list[int]] = []
    for line in sorted(set(lines)):
        if runs and runs[-1][1] + 1 == line:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in runs) or "none"
