# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the devices counted: packets and bytes per firewall rule and per deciding router line.

A conflict says which rule writes the byte and which router lines drop it; counters say whether
it happened ("partner-fw line 35 marked 5,123 packets; access-list 106 entry 10 matched 5,123;
route-map null_policy_route 10 sent 5,123 to Null0").

* Firewalls: `iptables_counters(ruleset)` reads the `[packets:bytes]` that `iptables-save -c`
  writes before each rule (and `-c N M` in a rule), as the parser kept them (`Rule.counters`);
  `iptables_counters_text(text, file)` reads them line by line from a dump's text without parsing
  it; `nft_counters(text, file)` reads `counter packets N bytes M` of `nft list ruleset` per line.
* Routers: the `show` outputs are parsed on the controller (`plugin_utils/showparse.py`, TextFSM)
  into `RouterCounter` and `InterfaceState` values, defined here so the join stays in the core.
* `conflict_observed(conflict, config, firewall_counters, router_counters, states)` gives a
  conflict its `observed`: the marking rule's counter, every deciding router line that has one,
  and notes (a rule that never fired, a router that says its interface is not what the audited
  configuration applies).

Standard library only.

>>> iptables_counters_text("*mangle\\n[5123:307380] -A POSTROUTING -o eth0 -j TOS --set-tos 0x04\\nCOMMIT\\n", "fw")
{2: RuleCounter(file='fw', line=2, packets=5123, bytes=307380)}
>>> nft_counters("table ip t {\\n chain c {\\n  tcp dport 25 counter packets 7 bytes 420 ip dscp set cs1\\n }\\n}", "fw.nft")
{3: RuleCounter(file='fw.nft', line=3, packets=7, bytes=420)}
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import quote
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import IosConfig
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset

if t.TYPE_CHECKING:  # pragma: no cover - annotations only: analysis.py may import this module
    from ansible_collections.diffserv.audit.plugins.module_utils.analysis import FirewallInput

JSON = t.Dict[str, t.Any]

# iptables-save -c: `[packets:bytes] -A CHAIN ...` (iptables-save(8), "-c, --counters").
_IPT_PREFIX = re.compile(r"^\s*\[(\d+):(\d+)\]\s+(?:-A|--append|-I|--insert)\s")
# A rule carrying `-c N M` / `--set-counters N M` (iptables(8)), as iptables-restore --counters reads it.
_IPT_OPTION = re.compile(r"(?:^|\s)(?:-c|--set-counters)\s+(\d+)\s+(\d+)(?=\s|$)")
# nft list ruleset: an anonymous counter statement prints as `counter packets N bytes M` (nft(8), COUNTER).
_NFT_COUNTER = re.compile(r"(?:^|\s)counter\s+packets\s+(\d+)\s+bytes\s+(\d+)(?=\s|$|;)")

# What a router counter counts: an ACL entry's matches, a route-map clause's policy-routing matches,
# a class's packets in a service policy, a class-map match line's packets, a policer's outcome, the
# packets a class marked.
ACL_ENTRY, ROUTE_MAP, CLASS, CLASS_MATCH, POLICE, MARKED = (
    "acl-entry", "route-map", "class", "class-match", "police", "marked")


@dataclasses.dataclass(frozen=True, slots=True)
class RuleCounter:
    """A firewall rule line's counter."""

    file: str
    line: int
    packets: int
    bytes: int
    # What grew between two live readings (diffserv_counter_interval); None: read once.
    delta_packets: int | None = dataclasses.field(default=None, repr=False, compare=False)
    delta_bytes: int | None = dataclasses.field(default=None, repr=False, compare=False)

    def as_dict(self) -> JSON:
        found: JSON = {"line": self.line, "packets": self.packets, "bytes": self.bytes}
        if self.delta_packets is not None:
            found["delta"] = {"packets": self.delta_packets, "bytes": self.delta_bytes}
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class RouterCounter:
    """One counter a router printed, with what it belongs to (the join's keys) and the line it printed.

    kind ACL_ENTRY: `name` the access list, `seq` the entry's sequence number, `entry` its text;
    ROUTE_MAP: `name` the route-map, `seq` the clause; CLASS / CLASS_MATCH / POLICE / MARKED:
    `name` the policy-map, `entry` the class (CLASS_MATCH: the match text in `detail`; POLICE: the
    outcome, conformed / exceeded / violated; MARKED: the set), on `interface` in `direction`.
    `packets`/`bytes` None: the device prints no such number for it.
    """

    command: str
    kind: str
    name: str
    text: str
    packets: int | None
    bytes: int | None = None
    seq: int | None = None
    entry: str | None = None
    interface: str | None = None
    direction: str | None = None
    detail: str | None = None
    delta_packets: int | None = dataclasses.field(default=None, compare=False)
    delta_bytes: int | None = dataclasses.field(default=None, compare=False)

    @property
    def key(self) -> tuple[t.Any, ...]:
        """What identifies the counter in two readings of the same device."""
        return (self.command, self.kind, self.name, self.seq, self.entry, self.interface, self.direction, self.detail)

    @property
    def what(self) -> str:
        if self.kind == ACL_ENTRY:
            return "access-list %s entry %s matches" % (self.name, self.seq)
        if self.kind == ROUTE_MAP:
            return "route-map %s %s policy routing matches" % (self.name, self.seq)
        where = "%s %s, service-policy %s, class %s" % (self.interface, self.direction, self.name, self.entry)
        if self.kind == CLASS:
            return "%s: packets" % where
        if self.kind == CLASS_MATCH:
            return "%s: match %s" % (where, self.detail)
        if self.kind == POLICE:
            return "%s: police %s" % (where, self.detail)
        return "%s: packets marked (%s)" % (where, self.detail)

    def as_dict(self) -> JSON:
        found: JSON = {"what": self.what, "text": quote(self.text), "packets": self.packets, "bytes": self.bytes,
                       "command": self.command}
        if self.delta_packets is not None or self.delta_bytes is not None:
            found["delta"] = {"packets": self.delta_packets, "bytes": self.delta_bytes}
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class InterfaceState:
    """What `show ip interface` says an interface applies (None: not set)."""

    interface: str
    inbound_acl: str | None
    outgoing_acl: str | None
    policy_route_map: str | None
    policy_routing: bool | None  # None: the output does not say


@dataclasses.dataclass(frozen=True, slots=True)
class ConflictObserved:
    """A conflict's `observed`: the marking rule's counter, the router's deciding counters, notes."""

    firewall: RuleCounter | None
    router: tuple[RouterCounter, ...]
    notes: tuple[str, ...] = ()
    interval: float | None = None  # seconds between the two live readings the deltas come from

    @property
    def fired(self) -> bool | None:
        """Whether the marking rule has counted packets; None when its counters are not known."""
        return None if self.firewall is None else self.firewall.packets > 0

    def as_dict(self) -> JSON:
        found: JSON = {"firewall": self.firewall.as_dict() if self.firewall is not None else None,
                       "router": [counter.as_dict() for counter in self.router], "fired": self.fired,
                       "notes": list(self.notes)}
        if self.interval is not None:
            found["interval_seconds"] = self.interval
        return found


def _grown(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None or now < before else now - before


def rule_deltas(now: t.Mapping[int, RuleCounter], before: t.Mapping[int, RuleCounter]) -> dict[int, RuleCounter]:
    """The later reading's rule counters with what grew since the earlier one (a counter that went
    down was zeroed or its rule reloaded in between: no delta)."""
    found = {}
    for line, counter in now.items():
        earlier = before.get(line)
        found[line] = dataclasses.replace(
            counter, delta_packets=_grown(counter.packets, earlier.packets if earlier else None),
            delta_bytes=_grown(counter.bytes, earlier.bytes if earlier else None))
    return found


def router_deltas(now: t.Sequence[RouterCounter], before: t.Sequence[RouterCounter]) -> tuple[RouterCounter, ...]:
    """The same for a router's counters, matched by what they count."""
    earlier = {counter.key: counter for counter in before}
    found = []
    for counter in now:
        old = earlier.get(counter.key)
        found.append(dataclasses.replace(
            counter, delta_packets=_grown(counter.packets, old.packets if old else None),
            delta_bytes=_grown(counter.bytes, old.bytes if old else None)))
    return tuple(found)


# ---------------------------------------------------------------------------
# Firewalls


def iptables_counters(ruleset: Ruleset) -> dict[int, RuleCounter]:
    """Line -> counter of every rule line that carries one, as the parser read it (`[p:b]` before the
    rule, or `-c p b` in it).  A line the parser expands into several rules (`-s a,b`) carries one."""
    found: dict[int, RuleCounter] = {}
    for table in ruleset.tables.values():
        for chain in table.chains:
            for rule in table.rules(chain):
                counters = getattr(rule, "counters", None)
                if counters is not None and rule.line not in found:
                    found[rule.line] = RuleCounter(ruleset.file, rule.line, counters[0], counters[1])
    return found


def firewall_counters(firewall: FirewallInput, text: str | None = None) -> dict[int, RuleCounter] | None:
    """A loaded firewall's rule counters: the dump's `iptables-save -c` counters as parsed, else, given
    the collected text, `nft list ruleset` counter statements; None when it carries none (a dump saved
    without -c: nothing is claimed about what fired)."""
    found: dict[int, RuleCounter] = {}
    try:
        found = iptables_counters(firewall.ruleset)
    except (AttributeError, KeyError, TypeError):
        found = {}  # a ruleset of another shape (the nftables view): its text is read below
    if not found and text is not None and "counter" in text:
        found = nft_counters(text, firewall.file)
    return found or None


def iptables_counters_text(text: str, file: str) -> dict[int, RuleCounter]:
    """The same from a dump's text, line by line, without parsing the rules (`-c` in a rule wins over
    the prefix, as iptables-restore reads them)."""
    found: dict[int, RuleCounter] = {}
    for number, line in enumerate(text.splitlines(), 1):
        option = _IPT_OPTION.search(line) if ("-c " in line or "--set-counters" in line) else None
        prefix = _IPT_PREFIX.match(line) if line.lstrip().startswith("[") else None
        match = option or prefix
        if match is not None:
            found[number] = RuleCounter(file, number, int(match.group(1)), int(match.group(2)))
    return found


def nft_counters(text: str, file: str) -> dict[int, RuleCounter]:
    """Line -> counter of each `nft list ruleset` line holding an anonymous `counter packets N bytes M`
    (a rule with two counter statements: the first, which sees every packet the rule's matches let by
    up to it)."""
    found: dict[int, RuleCounter] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if "counter" not in line:
            continue
        match = _NFT_COUNTER.search(line)
        if match is not None:
            found[number] = RuleCounter(file, number, int(match.group(1)), int(match.group(2)))
    return found


# ---------------------------------------------------------------------------
# Routers: which configuration line each counter belongs to


class _LineKey(t.NamedTuple):
    kind: str  # ACL_ENTRY, ROUTE_MAP or CLASS
    name: str
    seq: int | None
    entry: str | None


def _interface_key(name: str | None) -> str:
    return (name or "").replace(" ", "").lower()


def _config_lines(config: IosConfig) -> dict[int, _LineKey]:
    """Configuration line -> the counter that counts for it: an ACL entry (its sequence number as IOS
    numbers it: as written, else 10 after the previous), a route-map clause and its match and set
    lines, a policy-map class and its action lines."""
    found: dict[int, _LineKey] = {}
    for acl in config.acls.values():
        seq = 0
        for entry in acl.entries:
            seq = entry.seq if entry.seq is not None else seq + 10
            found[entry.source.line] = _LineKey(ACL_ENTRY, acl.name, seq, None)
    for route_map in config.route_maps.values():
        for clause in route_map.clauses:
            key = _LineKey(ROUTE_MAP, route_map.name, clause.seq, None)
            for evidence in [clause.source] + [m.source for m in clause.matches] + [s.source for s in clause.sets]:
                found.setdefault(evidence.line, key)
    for policy in config.policy_maps.values():
        for policy_class in policy.classes:
            key = _LineKey(CLASS, policy.name, None, policy_class.name)
            # An implicit class-default cites the policy-map line: its counter is class-default's.
            found.setdefault(policy_class.source.line, key)
            for action in policy_class.actions:
                found.setdefault(action.source.line, key)
    return found


def _router_matches(key: _LineKey, interface: str, direction: str,
                    counters: t.Sequence[RouterCounter]) -> list[RouterCounter]:
    if key.kind in (ACL_ENTRY, ROUTE_MAP):
        return [c for c in counters if c.kind == key.kind and c.name == key.name and c.seq == key.seq]
    wanted = _interface_key(interface)
    return [c for c in counters if c.kind in (CLASS, CLASS_MATCH, POLICE, MARKED) and c.name == key.name
            and c.entry == key.entry and _interface_key(c.interface) == wanted
            and (c.direction or "").startswith("in" if direction == "in" else "out")]


def conflict_observed(conflict: Conflict, config: IosConfig | None,
                      firewall_counters: t.Mapping[int, RuleCounter] | None,
                      router_counters: t.Sequence[RouterCounter] = (),
                      states: t.Sequence[InterfaceState] = ()) -> ConflictObserved:
    """The counters behind one conflict.

    `config` is the conflict's router configuration (RouterInput.config) and `firewall_counters`
    its firewall's (`iptables_counters(ruleset)`, or `nft_counters(text, file)`), None when the dump
    carried none.  `router_counters` and `states` are what that router's saved `show` outputs gave.
    """
    notes: list[str] = []
    firewall = None
    if firewall_counters is not None:
        firewall = firewall_counters.get(conflict.marker.line)
        if firewall is None:
            notes.append("%s:%d carries no counter in the saved dump" % (conflict.marker.file, conflict.marker.line))
        elif firewall.packets == 0:
            notes.append("%s:%d never fired (0 packets since its counters were last zeroed): the conflict is "
                         "possible, not observed" % (conflict.marker.file, conflict.marker.line))
    treatment = conflict.treatment
    found: list[RouterCounter] = []
    if config is not None and router_counters:
        lines = _config_lines(config)
        for evidence in treatment.lines:
            key = lines.get(evidence.line)
            if key is None:
                continue
            for counter in _router_matches(key, treatment.interface, treatment.direction, router_counters):
                if counter not in found:
                    found.append(counter)
        for counter in found:
            if counter.kind in (ACL_ENTRY, ROUTE_MAP) and counter.packets == 0:
                notes.append("%s: 0 on %s" % (counter.what, treatment.host))
    if config is not None:
        notes.extend(_state_notes(conflict, config, states))
    return ConflictObserved(firewall, tuple(found), tuple(notes))


def _state_notes(conflict: Conflict, config: IosConfig, states: t.Sequence[InterfaceState]) -> list[str]:
    """Where `show ip interface` says the interface applies something else than the audited configuration."""
    interface = config.interfaces.get(conflict.treatment.interface)
    state = next((s for s in states if _interface_key(s.interface) == _interface_key(conflict.treatment.interface)), None)
    if interface is None or state is None:
        return []
    notes = []
    host, name = conflict.treatment.host, conflict.treatment.interface
    configured = interface.pbr.name if interface.pbr is not None else None
    if state.policy_routing is not None and (state.policy_route_map or None) != configured:
        notes.append("show ip interface on %s: %s policy routing %s, the audited configuration applies %s" % (
            host, name, "by route-map %s" % state.policy_route_map if state.policy_route_map else "disabled",
            "route-map %s" % configured if configured else "none"))
    acl_in = interface.acl_in.name if interface.acl_in is not None else None
    if (state.inbound_acl or None) != acl_in:
        notes.append("show ip interface on %s: %s inbound access list %s, the audited configuration applies %s" % (
            host, name, state.inbound_acl or "not set", acl_in or "none"))
    return notes
