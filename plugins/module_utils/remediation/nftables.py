# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables side of remediation: clear the DS field on the way out, in a chain that has the last word.

The iptables writer (iptables.py) inserts a rule late in mangle POSTROUTING. An nft host has no
such single chain: every table may hang base chains on the postrouting hook, and the kernel runs
them in ascending priority (on equal priority the chain created last runs first; semantics.md,
"NAT, IPv6 and native nftables"). So the clearing gets a table of its own, `inet diffserv_audit`,
with one base chain on the postrouting hook whose priority comes after every base chain that
writes the byte:

    table inet diffserv_audit {
        chain postrouting {
            type filter hook postrouting priority mangle + 10; policy accept;
            oifname "eth0" ip dscp set cs0
            oifname "eth0" ip6 dscp set cs0
        }
    }

`ip dscp set cs0` rewrites the six DSCP bits and keeps ECN (nft 1.0.6 lists `ip dscp set 0` as
`cs0`).  The placement is proved, not assumed: the candidate ruleset (the listing with the table
added, as `nft list ruleset` prints it back) is read by the nftables driver's reader and its
marking map must show every class of packets leaving by the egress with DSCP 0.  A priority that
fails the proof (a chain the writer did not see write, one jumped to from a later base chain) is
refused and the next one tried: after every base chain on the hook.  It is applied as one `nft -f`
transaction (`add table`, `add chain`, `add rule`) and undone by deleting the table.

>>> listing = '''table inet partner {
... 	chain post {
... 		type filter hook postrouting priority mangle; policy accept;
... 		oifname "eth0" tcp dport 512-65535 ip dscp set lephb
... 	}
... }
... '''
>>> placed = place_clear_chain(listing, "fw.nft", ["eth0"])
>>> placed.priority, priority_text(placed.priority)
(-140, 'mangle + 10')
>>> print("\\n".join(placed.commands))
add table inet diffserv_audit
add chain inet diffserv_audit postrouting { type filter hook postrouting priority -140; policy accept; }
add rule inet diffserv_audit postrouting oifname "eth0" ip dscp set cs0
add rule inet diffserv_audit postrouting oifname "eth0" ip6 dscp set cs0
>>> placed.rollback
('delete table inet diffserv_audit',)

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.analysis import FirewallInput
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Stage as HookStage
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import MarkingMap, marking_map
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import Document, View, iptables_nft_tables
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.iptables import line_ranges, still_marked
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    POST, PRE, Action, Check, HostChange, Stage, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Firewall, Fleet

# How remediate loads the change (plugins/plugin_utils/session.py FIREWALL_APPLY).
APPLY = "nft -f"
FAMILY, TABLE, CHAIN = "inet", "diffserv_audit", "postrouting"
TABLE_KEY = "%s %s" % (FAMILY, TABLE)
PRIORITY_MAX = 2 ** 31 - 1
PRIORITY_MIN = -(2 ** 31)
# The standard priority names nft 1.0.6 prints on the postrouting hook of ip, ip6 and inet tables
# (`man nft`, table 6: dstnat is a prerouting name), within 10 of which it prints "name + N".
_POSTROUTING_NAMES = (("raw", -300), ("mangle", -150), ("filter", 0), ("security", 50), ("srcnat", 100))
_COUNTER = re.compile(r"\bcounter packets \d+ bytes \d+")


class PlacementError(DiffservError):
    """No priority on the postrouting hook makes every packet leave with DSCP 0."""


@dataclasses.dataclass(frozen=True)
class NftPlacement:
    """The clearing chain of one nft host: its priority, what it follows, its text, and the proof.

    `candidate` is the listing as `nft list ruleset` prints it once the transaction is loaded (the new
    table last: nft lists tables in creation order); `commands` the `nft -f` file, `rollback` its undo.
    """

    egresses: tuple[str | None, ...]
    priority: int
    follows: tuple[HookStage, ...]
    writers: tuple[int, ...]
    candidate: str
    commands: tuple[str, ...]
    rollback: tuple[str, ...]
    proof: str
    candidate_view: View | None = dataclasses.field(default=None, compare=False, repr=False)
    candidate_marks: MarkingMap | None = dataclasses.field(default=None, compare=False, repr=False)


def priority_text(value: int) -> str:
    """A postrouting priority as nft 1.0.6 lists it.

    >>> [priority_text(v) for v in (-150, -140, 1, 110, 300, -200)]
    ['mangle', 'mangle + 10', 'filter + 1', 'srcnat + 10', '300', '-200']
    """
    for name, base in _POSTROUTING_NAMES:
        offset = value - base
        if abs(offset) <= 10:
            return name if not offset else "%s %s %d" % (name, "+" if offset > 0 else "-", abs(offset))
    return str(value)


def _statements(egresses: t.Sequence[str | None]) -> list[str]:
    """The rules of the chain: per egress (None: every one), IPv4's DSCP and IPv6's Traffic Class DSCP."""
    found: list[str] = []
    for egress in egresses:
        match = 'oifname "%s" ' % egress if egress else ""
        found.extend("%s%s dscp set cs0" % (match, family) for family in ("ip", "ip6"))
    return found


def clear_block(egresses: t.Sequence[str | None], priority: int) -> list[str]:
    """The table as `nft list ruleset` prints it."""
    return (["table %s {" % TABLE_KEY, "\tchain %s {" % CHAIN,
             "\t\ttype filter hook postrouting priority %s; policy accept;" % priority_text(priority)]
            + ["\t\t%s" % rule for rule in _statements(egresses)] + ["\t}", "}"])


def clear_commands(egresses: t.Sequence[str | None], priority: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the `nft -f` file that adds the table, its chain and rules in one transaction; the file that undoes it)."""
    commands = ["add table %s" % TABLE_KEY,
                "add chain %s %s { type filter hook postrouting priority %d; policy accept; }" % (TABLE_KEY, CHAIN, priority)]
    commands.extend("add rule %s %s %s" % (TABLE_KEY, CHAIN, rule) for rule in _statements(egresses))
    return tuple(commands), ("delete table %s" % TABLE_KEY,)


def with_chain(text: str, egresses: t.Sequence[str | None], priority: int) -> str:
    """The listing with the clearing table added at its end, where nft lists the table created last."""
    head = text if not text or text.endswith("\n") else text + "\n"
    return head + "\n".join(clear_block(egresses, priority)) + "\n"


def _stage_writes(view: View, stage: HookStage) -> bool:
    """Whether a base chain's own rules write the byte (a chain it jumps to is for the proof to find)."""
    table = view.tables.get(stage.table)
    return table is not None and any(rule.writes_byte for rule in table.rules(stage.chain))


def _hook_priorities(document: Document) -> list[int]:
    """Every base chain on the postrouting hook, nat chains included (the view leaves those out)."""
    return [chain.priority or 0 for table in document.tables for chain in table.chains.values()
            if chain.hook == "postrouting"]


def _view(document: Document, family: int, iptables: t.Any) -> View:
    """The family's view, with the host's iptables dump on the hooks beside the native chains when it has one."""
    return View(document, family, iptables=iptables) if iptables is not None else document.view(family)


def place_clear_chain(text: str, source: str, egresses: t.Sequence[str | None], backend: str = "auto",
                      era: str = "auto", view: View | None = None, before: MarkingMap | None = None) -> NftPlacement:
    """The clearing chain's priority on the postrouting hook, proved with the candidate's marking map.

    Tries, in order: just after the last base chain whose rules write the byte, then after every base
    chain on the hook.  Each try is the listing with the table added, read again by the nftables reader
    (the same one the audit used; with the host's iptables dump beside it when `view` has one) and
    mapped: every class leaving by each egress must leave with DSCP 0, for IPv4 and, where the ruleset
    has IPv6 tables, IPv6.  `view` is the audited IPv4 view of `text` (read again when None) and
    `before` its marking map.  Raises PlacementError when no priority is proved.
    """
    if view is None:
        view = read_ruleset(text, source).view(4)
    document = view.document
    if document.table(FAMILY, TABLE) is not None:
        raise PlacementError("%s: table %s exists already (an earlier change?): it is not changed again; delete it "
                             "or clear the DS field in it by hand" % (source, TABLE_KEY))
    iptables = getattr(view, "iptables", None)
    translated = sorted(iptables_nft_tables(document))
    if translated and iptables is None:
        # nft lists iptables-nft's rules translated back, and wrongly for TOS (`--set-tos 0x04/0xff` as
        # `ip6 dscp set 0x01`): a proof read from that listing alone proves nothing.
        raise PlacementError("%s: the host also runs iptables-nft tables (%s) and their iptables-save dump is not "
                             "with the listing: the clearing chain is not planned without it (collect the host live, "
                             "or give both)" % (source, ", ".join(translated)))
    interfaces = [egress for egress in egresses if egress]
    before = before if before is not None else marking_map(view, backend, era, interfaces=interfaces)
    writers = sorted({line for egress in egresses for line in before.writer_lines_leaving(egress, ("forward", "output"))})
    stages = view.base_chains("POSTROUTING")
    writing = [stage for stage in stages if _stage_writes(view, stage)]
    every = _hook_priorities(document) + [stage.priority for stage in stages]
    tries: list[tuple[str, int]] = []
    if writing:
        tries.append(("after the last base chain that writes the byte", max(s.priority for s in writing) + 10))
    tries.append(("after every base chain on the postrouting hook", max(every) + 10 if every else 0))
    refused: list[str] = []
    seen: set[int] = set()
    for why, priority in tries:
        if priority in seen:
            continue
        seen.add(priority)
        if priority > PRIORITY_MAX:
            refused.append("%s: priority %d is beyond the kernel's largest, %d" % (why, priority, PRIORITY_MAX))
            continue
        candidate = with_chain(text, egresses, priority)
        try:
            changed = read_ruleset(candidate, source)
        except ParseError as error:  # pragma: no cover - the block is what nft prints; a reader gap if it fails
            raise PlacementError("%s: the candidate ruleset does not read back: %s" % (source, error)) from None
        proved = []
        left_lines: set[int] = set()
        marks: MarkingMap | None = None
        candidate_view: View | None = None
        for family in changed.families():
            family_view = _view(changed, family, iptables if family == 4 else None)
            family_marks = marking_map(family_view, backend, era, interfaces=interfaces)
            for egress in egresses:
                left_lines.update(w for m in still_marked(family_marks, egress) for w in m.writers[-1:])
            proved.append("%d IPv%d" % (sum(family_marks.count_leaving(egress) for egress in egresses), family))
            if family == 4:
                marks, candidate_view = family_marks, family_view
        if left_lines:
            refused.append("%s: priority %s is refused, packets leave still marked by line(s) %s" % (
                why, priority_text(priority), line_ranges(sorted(left_lines))))
            continue
        follows = tuple(stage for stage in (candidate_view.base_chains("POSTROUTING") if candidate_view else ())
                        if stage.table != TABLE_KEY and stage.priority <= priority)
        where = ", ".join("leaving by %s" % egress if egress else "leaving by any interface" for egress in egresses)
        proof = ("marking map of the changed ruleset, read by the nftables driver: all classes of packets %s leave "
                 "with DSCP 0 (%s; chain %s %s at priority %s runs after %s)%s" % (
                     where, " and ".join(proved) if proved else "no IPv4 or IPv6 table", TABLE_KEY, CHAIN,
                     priority_text(priority),
                     ", ".join("%s %s (%s)" % (s.table, s.chain, priority_text(s.priority)) for s in follows) or
                     "no other base chain",
                     "; " + "; ".join(refused) if refused else ""))
        commands, rollback = clear_commands(egresses, priority)
        return NftPlacement(tuple(egresses), priority, follows, tuple(writers), candidate, commands, rollback, proof,
                            candidate_view, marks)
    raise PlacementError("%s: no priority on the postrouting hook clears DSCP on every packet %s (%s)" % (
        source, ", ".join("leaving by %s" % e if e else "leaving by any interface" for e in egresses),
        "; ".join(refused)))


def rules_only(listing: str) -> list[str]:
    """What a listing says the tables do: counters' values, nft's warnings and blank lines left out
    (the drift check and the rollback compare these)."""
    found = []
    for line in listing.split("\n"):
        line = line.strip()
        if not line or line.startswith("# Warning:"):
            continue
        found.append(_COUNTER.sub("counter", line))
    return found


def applied_problem(candidate: str, after: str, source: str) -> str | None:
    """Why the ruleset read back after the load is not the change planned (None: it is): the table, its
    chain on the postrouting hook at the planned priority, and its rules, as the candidate has them."""
    def ours(text: str) -> tuple[t.Any, ...] | None:
        table = read_ruleset(text, source).table(FAMILY, TABLE)
        if table is None:
            return None
        chain = table.chains.get(CHAIN)
        return (chain.hook, chain.type, chain.priority, chain.policy) if chain else None, \
            [raw.source.text for raw in table.raw.get(CHAIN, [])]

    planned, found = ours(candidate), ours(after)
    if found is None:
        return "table %s is not listed after the load" % TABLE_KEY
    if found != planned:
        return "table %s is listed as %r, not as planned (%r)" % (TABLE_KEY, found, planned)
    return None


# ---------------------------------------------------------------------- remark_boundary's writer
def boundary_change(firewall: Firewall, here: t.Sequence[Conflict], egresses: set[str | None],
                    fleet: Fleet) -> HostChange:
    """The clearing table of an nft host (one chain for every egress), proved, with its commands, rollback,
    checks and request actions; the candidate's model remembered for the re-audit."""
    host = firewall.host.host
    unknown_egress = None in egresses
    outs: list[str | None] = [None] if unknown_egress else list(sorted(e for e in egresses if e))
    notes: list[str] = []
    view = t.cast(View, firewall.ruleset)
    try:
        placement = place_clear_chain(firewall.host.text, firewall.host.source, outs, firewall.backend, firewall.era,
                                      view=view, before=firewall.marks)
    except PlacementError as error:
        return HostChange(host, firewall.host.platform, firewall.host.managed, firewall.host.source,
                          firewall.host.text, (), notes=(str(error),))
    rules = sorted({(c.marker.line, c.marker.rule) for c in here if c.marker.host == host})
    actions = [Action("keep", "the rules that write the DS byte", tuple(rules),
                      "they write values that routers read as DSCPs; they may stay, the new chain runs after them")] \
        if rules else []
    shown = tuple((chain.source.line, chain.source.text) for stage in placement.follows
                  for chain in [_chain_of(view, stage)] if chain is not None)
    actions.append(Action(
        "add", "table %s, chain %s (type filter hook postrouting priority %s): %s" % (
            TABLE_KEY, CHAIN, priority_text(placement.priority), "; ".join(_statements(outs))), shown,
        "clears the DSCP of every packet leaving by %s; its priority puts it after every base chain shown, so it "
        "has the last word (the writes on that path: lines %s)" % (
            ", ".join(e for e in outs if e) or "any interface", line_ranges(placement.writers))))
    notes.append(placement.proof)
    notes.append("the commands are one nft file, loaded as one transaction (`nft -f FILE`): the table, its chain and "
                 "rules appear together or not at all; the rollback deletes the table (`nft delete table %s`)"
                 % TABLE_KEY)
    if unknown_egress:
        notes.append("the interface towards the routers is not known (no diffserv_links): the chain clears the "
                     "DSCP of packets leaving by every interface; give diffserv_links to limit it to one")
    if getattr(view, "iptables", None) is not None:
        notes.append("the host also runs iptables tables: the proof read them from its iptables-save dump beside "
                     "the native tables, on their hooks by priority")
    # The re-audit of this candidate reads the model the proof built.
    fleet.remember(firewall.host, placement.candidate, FirewallInput(
        host, firewall.host.source, t.cast(t.Any, placement.candidate_view), t.cast(MarkingMap, placement.candidate_marks),
        firewall.host.managed))
    listing = "nft list table %s" % TABLE_KEY
    checks = (
        Check(PRE, "nft list tables", tuple(_tables(firewall.host.text)),
              "the tables are as audited, and %s is not one of them" % TABLE_KEY),
        Check(POST, listing, tuple(clear_block(outs, placement.priority)),
              "the clearing chain is in place, on the postrouting hook after every base chain that writes the byte"),
        Check(POST, "nft list chain %s %s" % (TABLE_KEY, CHAIN), ("dscp set cs0",),
              "add `counter` by hand to watch packets cross it; the chain itself keeps no state"),
    )
    return HostChange(host, firewall.host.platform, firewall.host.managed, firewall.host.source, firewall.host.text,
                      (Stage("clear the DS field on the way out, in a chain after every write", placement.candidate),),
                      actions=tuple(actions), notes=tuple(notes), commands=placement.commands,
                      rollback=placement.rollback, command_blocks=(placement.commands,), checks=checks)


def _tables(listing: str) -> list[str]:
    """`nft list tables` of a listing: one `table FAMILY NAME` line a table."""
    return [line.rstrip(" {") for line in listing.split("\n") if line.startswith("table ")] or ["(no table)"]


def _chain_of(view: View, stage: HookStage) -> t.Any:
    """The native base chain a stage names (None for an iptables table's built-in chain)."""
    table = view.tables.get(stage.table)
    chains = getattr(getattr(table, "table", None), "chains", None)
    return chains.get(stage.chain) if chains else None


def boundary_window(change: HostChange) -> Window:
    return Window(between="%s, one nft -f transaction" % change.host,
                  meanwhile="no window: the table, its chain and its rules are committed together",
                  order="the chain's priority puts it after every base chain that writes the byte, so it has the "
                        "last word")
