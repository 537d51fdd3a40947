# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An nft ruleset as read (`Document`), and what one address family sees of it (`View`).

The nftables package (a namespace package, like netfilter/):
- `text.py`: the listing (and hand-written `nft -f` files of the same block form) -> a `Document`
  of tables, chains, sets and maps, each rule kept as its tokens with file:line;
- `nftjson.py`: `nft -j list ruleset` JSON -> the same `Document`;
- `expr.py`: one rule's tokens -> matches and statements, then, per address family, the rules the
  netfilter evaluator runs, made of the same condition and target objects as iptables';
- `model.py` (here): `Document`, and `View`, which netfilter/evaluate.py and markmap.py walk.

A `Document` holds every table of every family with its chains, sets and maps; rules are kept as
their tokens (expr.py reads them). A `View` is the part an IPv4 (or IPv6) packet crosses: the
`ip` (or `ip6`) tables and the `inet` ones. It offers what netfilter/evaluate.py's `Program`
reads of an iptables dump (`tables`, each with `chains` and `rules(chain)`, a `header`) plus
`base_chains(hook)`: the base chains of a hook in the order the kernel runs them.

>>> from ansible_collections.diffserv.audit.plugins.module_utils.nftables.text import parse_nft
>>> doc = parse_nft('''table inet fw {
...     chain late { type filter hook postrouting priority mangle + 5; policy accept;
...         oifname "eth0" tcp dport 512-65535 ip dscp set lephb
...     }
...     chain early { type filter hook postrouting priority -200; }
... }''', "fw.nft")
>>> [(s.chain, s.priority) for s in doc.view(4).base_chains("POSTROUTING")]
[('early', -200), ('late', -145)]
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Evidence
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import TABLE_PRIORITIES, Stage
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Header, Rule, Ruleset

# nft hook names -> the evaluator's hook names; ingress/egress (netdev, inet ingress) are not modelled.
HOOKS = {"prerouting": "PREROUTING", "input": "INPUT", "forward": "FORWARD", "output": "OUTPUT",
         "postrouting": "POSTROUTING"}
# Standard priority names (ip, ip6, inet families; nft 1.0.6 `man nft`, table 6).
PRIORITY_NAMES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
FAMILIES = {"ip": (4,), "ip6": (6,), "inet": (4, 6)}
UNMODELLED_FAMILIES = ("arp", "bridge", "netdev")


@dataclasses.dataclass(frozen=True)
class NftChain:
    """A chain; a base chain has a hook, a type, a priority and a policy ("ACCEPT" or "DROP")."""

    name: str
    source: Evidence
    hook: str | None = None  # nft's name: "postrouting"
    type: str | None = None  # filter, route, nat
    priority: int | None = None
    policy: str | None = None
    order: int = 0  # position among every base chain of the document, as listed

    @property
    def builtin(self) -> bool:
        return self.hook is not None


@dataclasses.dataclass(frozen=True)
class NftSet:
    """A named set or map: its key types, its elements as written (a map's element has a value)."""

    name: str
    source: Evidence
    keys: tuple[str, ...]  # type (or typeof) words per concatenated field
    is_map: bool
    value_type: str | None
    flags: tuple[str, ...]
    elements: tuple[t.Any, ...]  # expr.Element


@dataclasses.dataclass
class RawRule:
    """One rule as read: its line, its text, its tokens (grouped: see text.py)."""

    source: Evidence
    tokens: list[t.Any]


class NftTable:
    """One `table FAMILY NAME { ... }`."""

    def __init__(self, family: str, name: str, source: Evidence) -> None:
        self.family = family
        self.name = name
        self.source = source
        self.chains: dict[str, NftChain] = {}
        self.sets: dict[str, NftSet] = {}
        self.raw: dict[str, list[RawRule]] = {}
        self.notes: list[Diagnostic] = []
        # Sets the rules themselves fill (`add @set`, `update @set`): their contents are run-time state.
        self.dynamic_sets: set[str] = set()

    @property
    def key(self) -> str:
        """The table's name in a view: family and name, as `nft list table inet fw` names it."""
        return "%s %s" % (self.family, self.name)

    @property
    def rule_count(self) -> int:
        return sum(len(rules) for rules in self.raw.values())


class Document:
    """Every table of an nft ruleset, in the order listed, and notes on what is not modelled."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.tables: list[NftTable] = []
        self.notes: list[Diagnostic] = []
        self.lines: tuple[int, int] = (1, 1)
        # The file the rules' evidence names (nftjson.py: a one-line JSON's rules are named by their lines
        # in the listing it renders to).
        self.evidence_file = file
        # Tables nft's "# Warning: table ip mangle is managed by iptables-nft" names (when stderr was kept).
        self.warned: set[str] = set()
        self._views: dict[int, View] = {}

    def table(self, family: str, name: str) -> NftTable | None:
        for table in self.tables:
            if table.family == family and table.name == name:
                return table
        return None

    @property
    def rule_count(self) -> int:
        return sum(table.rule_count for table in self.tables)

    def families(self) -> list[int]:
        """The address families some modelled table sees (4 first)."""
        seen = {family for table in self.tables for family in FAMILIES.get(table.family, ())}
        return sorted(seen)

    def nat_statements(self) -> list[tuple[Evidence, str, str, str]]:
        """Every NAT statement (snat, dnat, masquerade, redirect) as (rule, table, chain, statement text):
        recorded for the join's NAT model, which does not read them yet (notes say so)."""
        from ansible_collections.diffserv.audit.plugins.module_utils.nftables.expr import rule_items
        found: list[tuple[Evidence, str, str, str]] = []
        for table in self.tables:
            for chain, rules in table.raw.items():
                for raw in rules:
                    # (t.Any: mypy run on the source tree names this module twice, by path and by package.)
                    found.extend((raw.source, table.key, chain, item.text)
                                 for item in rule_items(t.cast(t.Any, raw), t.cast(t.Any, table)) if item.kind == "nat")
        return found

    def view(self, family: int) -> "View":
        found = self._views.get(family)
        if found is None:
            found = self._views[family] = View(self, family)
        return found

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every note: the document's and, read rule by rule, each view's."""
        found = list(self.notes)
        seen = {(d.line, d.reason) for d in found}
        for family in self.families():
            for diagnostic in self.view(family).rule_notes:
                if (diagnostic.line, diagnostic.reason) not in seen:
                    seen.add((diagnostic.line, diagnostic.reason))
                    found.append(diagnostic)
        return found


class ViewTable:
    """One table as an address family sees it: rules compiled for that family (expr.py), on first use."""

    native = True  # run as written: netfilter/evaluate.py applies no iptables backend quirk

    def __init__(self, table: NftTable, view: "View") -> None:
        self.table = table
        self.view = view
        self.name = table.key
        self.source = table.source
        self.family = view.family
        self._rules: dict[str, tuple[Rule, ...]] | None = None
        self._chains: dict[str, NftChain] = {}
        self._notes: list[Diagnostic] = []

    def mentions(self, words: tuple[str, ...]) -> bool:
        """Whether a rule of the table holds one of `words` (netfilter/parse.Table.mentions, for callers that
        skip tables no rule of which can test the byte)."""
        return any(word in rule.source.text for rules in self._compile().values() for rule in rules for word in words)

    def _compile(self) -> dict[str, tuple[Rule, ...]]:
        if self._rules is None:
            from ansible_collections.diffserv.audit.plugins.module_utils.nftables.expr import compile_chain
            rules: dict[str, tuple[Rule, ...]] = {}
            chains = dict(self.table.chains)
            for name in self.table.chains:
                # (t.Any: mypy run on the source tree names this module twice, by path and by package.)
                found, notes, extra = compile_chain(t.cast(t.Any, self.table), name, self.view.family, self.view.file)
                rules[name] = found
                self._notes.extend(notes)
                for inline, inline_rules in extra.items():
                    # The rest of a rule run as a chain of its own (expr.py): listed so the atoms see its matches.
                    rules[inline] = inline_rules
                    chains[inline] = NftChain(inline, inline_rules[0].source if inline_rules else self.source)
            self._rules, self._chains = rules, chains
        return self._rules

    @property
    def chains(self) -> dict[str, NftChain]:
        self._compile()
        return self._chains

    def rules(self, chain: str) -> tuple[Rule, ...]:
        return self._compile()[chain]

    def parsed(self) -> dict[str, tuple[Rule, ...]]:
        return dict(self._compile())

    @property
    def diagnostics(self) -> list[Diagnostic]:
        self._compile()
        return list(self._notes)

    @property
    def rule_count(self) -> int:
        return self.table.rule_count


class View:
    """What one address family sees of a Document: the evaluator's ruleset for native nft.

    With `iptables` (the same host's iptables-save dump of that family), the tables iptables-nft
    manages are read from the dump, not from the listing (nft prints them translated, and the
    translation can be wrong: see `iptables_nft_tables`), and their built-in chains take their
    places on the hooks beside the native base chains, by priority (raw -300, mangle -150,
    filter 0).
    """

    def __init__(self, document: Document, family: int, iptables: Ruleset | None = None) -> None:
        self.document = document
        self.family = family
        self.file = document.file
        self.lines = document.lines
        # iptables-nft tables a listing holds run as iptables-nft 1.8.9 compiles them ("nft"); native tables
        # run as written whatever the backend (ViewTable.native).
        self.header = iptables.header if iptables is not None else Header(
            tool="nft", version=None, backend="nft", era="modern", line=None)
        self.iptables = iptables
        managed = iptables_nft_tables(document) if iptables is not None else set()
        self.tables: dict[str, t.Any] = {}
        for table in document.tables:
            if family in FAMILIES.get(table.family, ()) and table.key not in managed:
                self.tables[table.key] = ViewTable(table, self)
        if iptables is not None:
            self.tables.update(iptables.tables)
        self._stages: dict[str, tuple[Stage, ...]] = {}

    def base_chains(self, hook: str) -> tuple[Stage, ...]:
        """The base chains on a hook in the kernel's order: ascending priority; on equal priority, the
        chain created last runs first (nf_hook_entries_grow inserts before equals), i.e. reverse
        listing order.  nat chains are left out: they see only a connection's first packet, and
        neither the byte nor the verdict of the packets the join reads (notes say so).  iptables
        tables (with `iptables`) come after native chains of the same priority, as when the native
        ruleset was loaded last: which was created first is in neither text (a note says so)."""
        found = self._stages.get(hook)
        if found is None:
            chosen = []
            for key, table in self.tables.items():
                if not isinstance(table, ViewTable):
                    continue
                for chain in table.table.chains.values():
                    if chain.hook is None or HOOKS.get(chain.hook) != hook or chain.type == "nat":
                        continue
                    chosen.append((chain.priority or 0, -chain.order, Stage(key, chain.name, chain.priority or 0)))
            if self.iptables is not None:
                for name, priority in TABLE_PRIORITIES.items():
                    table_obj = self.iptables.tables.get(name)
                    if table_obj is not None and hook in table_obj.chains:
                        chosen.append((priority, 1 << 30, Stage(name, hook, priority)))
            chosen.sort(key=lambda entry: (entry[0], entry[1]))
            found = self._stages[hook] = tuple(entry[2] for entry in chosen)
        return found

    @property
    def order_notes(self) -> list[Diagnostic]:
        """Where an iptables table and a native base chain share a hook and a priority (their order unknown)."""
        found = []
        for hook in HOOKS.values():
            stages = self.base_chains(hook)
            for first, second in zip(stages, stages[1:]):
                if first.priority == second.priority and isinstance(self.tables[first.table], ViewTable) \
                        and not isinstance(self.tables[second.table], ViewTable):
                    chain = self.tables[first.table].chains[first.chain]
                    found.append(Diagnostic(self.file, chain.source.line, chain.source.text,
                                            "native chain %s %s and iptables table %s share hook %s at priority %d: "
                                            "the kernel runs the one created last first, which neither text says; "
                                            "read as the native ruleset loaded last (it runs first)"
                                            % (first.table, first.chain, second.table, hook, first.priority)))
        return found

    def table(self, name: str) -> ViewTable | None:
        return self.tables.get(name)

    @property
    def rule_notes(self) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        for table in self.tables.values():
            if isinstance(table, ViewTable):
                found.extend(table.diagnostics)
        if self.iptables is not None:
            found.extend(self.order_notes)
        return found

    @property
    def notes(self) -> list[Diagnostic]:
        return list(self.document.notes)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.notes + self.rule_notes

    @property
    def comments(self) -> list[Evidence]:
        return []

    @property
    def rule_count(self) -> int:
        return sum(table.rule_count for table in self.tables.values())


# Tables iptables-nft creates, with their built-in chains (nft lists them under their iptables names).
_IPTABLES_NFT_CHAINS = {"raw": {"PREROUTING", "OUTPUT"}, "mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                                                                    "POSTROUTING"},
                        "filter": {"INPUT", "FORWARD", "OUTPUT"}, "nat": {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
                        "security": {"INPUT", "FORWARD", "OUTPUT"}}


def iptables_nft_tables(document: Document) -> set[str]:
    """The tables of a listing that iptables-nft manages: an ip/ip6 table named like an iptables table
    whose base chains all carry iptables' built-in names (PREROUTING, ...), or one nft's warning names.

    nft lists their rules translated back from the kernel's expressions, and the translation can be
    wrong: nft 1.0.6 prints iptables-nft's `-j TOS --set-tos 0x04/0xff` as `ip6 dscp set 0x01` (seen in
    the kernel lab); `nft -j` shows the extension as `{"xt": {"name": "TOS"}}`. Such tables are read
    from iptables-save."""
    found = set()
    for table in document.tables:
        base = {name for name, chain in table.chains.items() if chain.hook is not None}
        builtins = _IPTABLES_NFT_CHAINS.get(table.name)
        if table.family in ("ip", "ip6") and builtins and base and base <= builtins:
            found.add(table.key)
        elif table.key in document.warned:
            found.add(table.key)
    return found
