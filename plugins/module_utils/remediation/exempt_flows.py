# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strategy ``exempt_flows``: exempt exactly the conflicting flows, and nothing else, from what catches them.

The narrow way out.  The join (analysis.py) knows exactly which packets meet a conflict's fate, as the router
sees them (after the firewall's SNAT, DNAT, MASQUERADE): `Conflict.packets`.  Before the access-list entry that
catches them (the `permit ... dscp 1` a route-map clause or a class-map matches; the `deny ... dscp 1` of an
interface's filter), entries that match those packets with that DSCP and nothing more are inserted: `deny` in a
list that classifies (the packets no longer match the clause or the class), `permit` in a list that filters.
Every other packet meets the list as before: another DSCP, another address or port, the same flow unmarked.
The protection stays for everyone else (the worm filter still null-routes DSCP 1 from every other source).

It plans nothing where the flows cannot be written as a few entries (more than ENTRY_LIMIT), where the
treatment comes from a class-map's own `match dscp` (no list to exempt in), or where the list also serves the
other way (a filter and a classifier at once: an exemption would change one of them the wrong way); each says
why, and remove_policy or change_dscp remain.

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import ipaddress
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.analysis import RouterInput, with_packets
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict
from ansible_collections.diffserv.audit.plugins.module_utils.ios.acl import ICMP_TYPES, PROTOCOL_NAMES, TCP_PORTS, UDP_PORTS
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Acl, AclEntry, ClassMap, Criterion
from ansible_collections.diffserv.audit.plugins.module_utils.ios.space import PacketClass
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import (
    Action, Codepoint, HostChange, Planned, Stage, Strategy, Window,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.reaudit import Fleet, Router
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.router import (
    RouterModel, acl_kind, by_router, markers,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import (
    ConfigText, entry_body, spread_sequences,
)

if t.TYPE_CHECKING:  # pragma: no cover - annotations only (the registry imports this module)
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options

# A conflict whose flows take more entries than this is not exempted entry by entry: a list that long is a
# policy of its own, which a reviewer should see written as one (remove_policy, change_dscp).
ENTRY_LIMIT = 32

# How IOS prints what it reads: a port or DSCP typed as a number shows as its keyword in running-config, so the
# candidate is written that way and a second run finds nothing to change (Cisco IOS Security Command Reference,
# "permit (IP extended)": port and dscp keywords).
_TCP_NAMES = {number: name for name, number in sorted(TCP_PORTS.items(), reverse=True)}
_UDP_NAMES = {number: name for name, number in sorted(UDP_PORTS.items(), reverse=True)}
# The codepoints IOS has a keyword for (af11-af43, cs1-cs7, ef; 0 is `default`), and the ICMP types it names.
_DSCP_WORDS = {value: name.lower() for name, value in dsfield.DSCP_NAMES.items()
               if (name[:2] in ("AF", "CS") and value) or name == "EF"}
_DSCP_WORDS[0] = "default"
_ICMP_WORDS: dict[int, str] = {}
for _name, (_type, _code) in ICMP_TYPES.items():
    if _code is None:
        _ICMP_WORDS.setdefault(_type, _name)
_PORTED = (6, 17)
_CLASSIFIER, _FILTER = "classifier", "filter"


def dscp_word(dscp: int) -> str:
    """`dscp 1`, `dscp af11`: the codepoint as IOS prints it in an access list."""
    return _DSCP_WORDS.get(dscp, str(dscp))


def _address_words(ranges: t.Sequence[tuple[int, int]] | None, family: int) -> list[str]:
    if ranges is None:
        return ["any"]
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    words = []
    for low, high in ranges:
        for network in ipaddress.summarize_address_range(make(low), make(high)):
            if network.prefixlen == 0:
                words.append("any")
            elif network.prefixlen == network.max_prefixlen:
                words.append("host %s" % str(network.network_address).upper())
            elif family == 4:
                words.append("%s %s" % (network.network_address, network.hostmask))
            else:
                words.append(str(network).upper())
    return words


def _port_words(ranges: t.Sequence[tuple[int, int]] | None, protocol: int) -> list[str]:
    if ranges is None:
        return [""]
    names = _TCP_NAMES if protocol == 6 else _UDP_NAMES

    def word(port: int) -> str:
        return names.get(port, str(port))

    words = []
    for low, high in ranges:
        if (low, high) == (0, 65535):
            words.append("")
        elif low == high:
            words.append("eq %s" % word(low))
        elif low == 0:
            words.append("lt %s" % word(high + 1))
        elif high == 65535:
            words.append("gt %s" % word(low - 1))
        else:
            words.append("range %s %s" % (word(low), word(high)))
    return words


_FULL_RANGES = {"src": {4: (1 << 32) - 1, 6: (1 << 128) - 1}, "dst": {4: (1 << 32) - 1, 6: (1 << 128) - 1},
                "sport": {4: 65535, 6: 65535}, "dport": {4: 65535, 6: 65535}}
_FIELDS = ("protocols", "src", "dst", "sport", "dport", "icmp_types")


def _field_union(name: str, family: int, first: t.Any, second: t.Any) -> t.Any:
    """Two values of one field together (None: any)."""
    if first is None or second is None:
        return None
    if name in ("protocols", "icmp_types"):
        joined = first | second
        return None if len(joined) == 256 else frozenset(joined)
    merged: list[list[int]] = []
    for low, high in sorted(first + second):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    if len(merged) == 1 and merged[0] == [0, _FULL_RANGES[name][family]]:
        return None
    return tuple((low, high) for low, high in merged)


def merged_boxes(packets: t.Iterable[PacketClass]) -> list[PacketClass]:
    """The same packets in as few classes as merging along one field at a time gives: classes alike in every field
    but one become one class (their union there, which adds no packet).

    >>> tcp = frozenset({6})
    >>> merged_boxes([PacketClass(4, tcp, None, None, ((0, 442), (444, 65535)), ((512, 65535),)),
    ...               PacketClass(4, tcp, None, None, ((443, 443),), ((512, 65535),))])
    [PacketClass(family=4, protocols=frozenset({6}), src=None, dst=None, sport=None, dport=((512, 65535),), icmp_types=None)]
    """
    boxes = list(dict.fromkeys(packets))
    changed = True
    while changed and len(boxes) > 1:
        changed = False
        for index, name in enumerate(_FIELDS):
            buckets: dict[tuple[t.Any, ...], t.Any] = {}
            for box in boxes:
                values = (box.family,) + tuple(getattr(box, field) for field in _FIELDS)
                key = values[:index + 1] + values[index + 2:]
                value = values[index + 1]
                buckets[key] = _field_union(name, box.family, buckets[key], value) if key in buckets else value
            if len(buckets) < len(boxes):
                boxes = [PacketClass(key[0], *(key[1:index + 1] + (value,) + key[index + 1:]))
                         for key, value in buckets.items()]
                changed = True
    return boxes


def entry_words(packets: t.Iterable[PacketClass], action: str, dscp: int) -> list[str]:
    """Access-list entries (without list name or sequence number) that match exactly these packets with this
    DSCP, in their order, each once.

    >>> entry_words([PacketClass(4, frozenset({6}), ((0xC0000219, 0xC0000219),), None, ((25, 25),), None)], "deny", 1)
    ['deny tcp host 192.0.2.25 eq smtp any dscp 1']
    """
    found: dict[str, None] = {}
    for packet in packets:
        family = packet.family
        protocols: list[int | None] = []
        if packet.protocols is not None:
            protocols.extend(sorted(packet.protocols))
        elif packet.sport is not None or packet.dport is not None:
            protocols.extend(_PORTED)  # ports are only TCP's and UDP's
        else:
            protocols.append(None)
        sources, destinations = _address_words(packet.src, family), _address_words(packet.dst, family)
        for protocol in protocols:
            if protocol is None:
                name = "ip" if family == 4 else "ipv6"
            else:
                name = "icmp" if protocol == (58 if family == 6 else 1) else PROTOCOL_NAMES.get(protocol, str(protocol))
            ported = protocol in _PORTED
            sports = _port_words(packet.sport, t.cast(int, protocol)) if ported else [""]
            dports = _port_words(packet.dport, t.cast(int, protocol)) if ported else [""]
            icmp = protocol in (1, 58) and packet.icmp_types is not None
            types = [(_ICMP_WORDS.get(number, str(number)) if family == 4 else str(number))
                     for number in sorted(t.cast(t.FrozenSet[int], packet.icmp_types))] if icmp else [""]
            for source in sources:
                for sport in sports:
                    for destination in destinations:
                        for dport in dports:
                            for kind in types:
                                words = [action, name, source, sport, destination, dport, kind, "dscp", dscp_word(dscp)]
                                found[" ".join(word for word in words if word)] = None
    return list(found)


# Where a conflict's flows are exempted: before an access-list entry (its list, the entry, the verb of the
# exemption), or around a class-map's own `match dscp` criterion (the class-map, the criterion).
EntryPoint = t.Tuple[Acl, AclEntry, str]
CriterionPoint = t.Tuple[ClassMap, Criterion]


def _exemption_points(model: RouterModel, conflict: Conflict,
                      ) -> tuple[list[EntryPoint], list[CriterionPoint], list[str]]:
    """What on the conflict's path catches its byte: access-list entries, each with the exemption's verb (`deny`
    before a classifying permit, `permit` before a filtering deny), and class-map criteria that match the byte
    themselves; and why none where there is none."""
    lines = [step.line for step in conflict.treatment.lines]
    entries: list[EntryPoint] = []
    criteria: list[CriterionPoint] = []
    notes: list[str] = []
    for number in lines:
        if number not in model.entries:
            if number in model.criteria:
                class_map, criterion = model.criteria[number]
                if criterion.kind in ("dscp", "precedence") and not criterion.negate \
                        and criterion.ds_mask >> conflict.ds_byte & 1:
                    criteria.append((class_map, criterion))
            continue
        acl, entry = model.entries[number]
        if not entry.tests_ds or not entry.ds_mask >> conflict.ds_byte & 1:
            continue
        six = acl.family == 6
        classifies = any(line in model.rm_matches and any(
            match.kind == "acl" and acl.name in match.refs and (match.family == 6) == six
            for match in model.rm_matches[line][1].matches) for line in lines) or any(
            line in model.criteria and model.criteria[line][1].kind == "acl"
            and model.criteria[line][1].ref == acl.name for line in lines)
        role = _CLASSIFIER if classifies else _FILTER
        verb = "deny" if role == _CLASSIFIER else "permit"
        if entry.action == verb:
            notes.append("%s %s line %d %ss the marked packets where unmarked ones are not: an exemption cannot make "
                         "them fare as unmarked; not planned" % (_list_words(acl), acl.name, number, entry.action))
            continue
        # users() names an interface's use `<interface> <direction> (line N)`: those are the list's filter uses.
        attached = tuple("%s %s " % (iface, direction)
                         for iface, direction, _line, _text in model.attachments(acl_kind(acl), acl.name))
        other_roles = [user for user in model.users(acl_kind(acl), acl.name)
                       if (_FILTER if user.startswith(attached) else _CLASSIFIER) != role]
        if other_roles:
            notes.append("%s %s also serves as a %s (%s): an entry that exempts the flows from the %s would change "
                         "the other use the wrong way; not planned" % (
                             _list_words(acl), acl.name, _FILTER if role == _CLASSIFIER else _CLASSIFIER,
                             ", ".join(other_roles), role))
            continue
        entries.append((acl, entry, verb))
    return entries, criteria, notes


def _bodies_before(acl: Acl, entry: AclEntry) -> set[str]:
    """The entries of the list before `entry`, as entry_words writes them (no list name, number, padding)."""
    return {entry_body(other.source.text, acl.family) for other in acl.entries[:acl.entries.index(entry)]}


def _list_words(acl: Acl) -> str:
    return "ipv6 access-list" if acl.family == 6 else "access-list"


_SEQ6_FIRST = re.compile(r"^\s*sequence \d+ ")
_SEQ6_LAST = re.compile(r" sequence \d+\s*$")


def _entry_lines(model: RouterModel, acl: Acl, entry: AclEntry, entries: t.Sequence[str]) -> list[str] | None:
    """The entries as the list's own lines are written: `access-list 106 deny ...`, or indented children,
    numbered like the entry they go before where the list prints its sequence numbers (an unnumbered line typed
    into such a list would go to its end); None when no free numbers are left before that entry."""
    raw = model.text.line(entry.source.line)
    if acl.family == 4:
        # IOS pads `deny` to the width of `permit` where it prints an IPv4 entry without its number.
        entries = ["deny   " + words[5:] if words.startswith("deny ") else words for words in entries]
    indent = raw[:ConfigText.indent_of(raw)]
    body = raw.strip()
    numbered = body.split(None, 1)[0].isdigit() or bool(_SEQ6_FIRST.match(body) or _SEQ6_LAST.search(body))
    if not numbered or entry.seq is None:
        # A list that prints no numbers holds 10, 20, ... (as IOS numbers a list it loads): nine numbers are
        # free before an entry (the pre-check `show access-lists` confirms the numbers before anything is sent).
        if len(entries) > 9:
            return None
        if acl.family == 4 and raw.startswith("access-list "):
            return ["access-list %s %s" % (acl.name, words) for words in entries]
        return [indent + words for words in entries]
    entries = [" ".join(words.split()) for words in entries]
    position = acl.entries.index(entry)
    low = next((e.seq for e in reversed(acl.entries[:position]) if e.seq is not None), 0)
    numbers = spread_sequences(low, entry.seq, {e.seq for e in acl.entries if e.seq is not None}, len(entries))
    if numbers is None:
        return None
    if acl.family == 6:
        if _SEQ6_FIRST.match(body):
            return [indent + "sequence %d %s" % (seq, words) for seq, words in zip(numbers, entries)]
        return [indent + "%s sequence %d" % (words, seq) for seq, words in zip(numbers, entries)]
    return [indent + "%d %s" % (seq, words) for seq, words in zip(numbers, entries)]


def _router_input(router: Router) -> RouterInput:
    return RouterInput(router.host.host, router.host.source, router.config, router.host.managed)


class _Exemptions:
    """One router's exemptions, gathered conflict by conflict, then written into its text."""

    def __init__(self, router: Router) -> None:
        self.host = router.host.host
        self.text = ConfigText(router.host.text)
        self.model = RouterModel(router, self.text)
        # entry line -> (its list, the entry, the exemptions before it, what each conflict's exemptions give up)
        self.before_entries: dict[int, tuple[Acl, AclEntry, dict[str, None], list[str]]] = {}
        # criterion line -> (the class-map, the criterion, its family, the flows it no longer matches, gives up)
        # criterion line -> (the class-map, the criterion, per family the flows it no longer matches, gives up)
        self.around_criteria: dict[int, tuple[ClassMap, Criterion, dict[int, dict[str, None]], list[str]]] = {}
        self.actions: list[Action] = []
        self.lost: list[str] = []
        # (what the router marks itself, the fate) -> firewall -> the lines of the flows exempted with it
        self.self_marked: dict[tuple[str, str], dict[str, list[int]]] = {}
        self.notes: list[str] = []

    def add(self, conflict: Conflict) -> None:
        where = "DSCP %d %s on %s" % (conflict.dscp, conflict.treatment.action, conflict.treatment.interface)
        entries, criteria, why_not = _exemption_points(self.model, conflict)
        self.notes.extend("%s: %s" % (where, note) for note in why_not)
        if not entries and not criteria and not why_not:
            self.notes.append("%s: no line on its path tests the byte in a way an exemption can go around; not planned"
                              % where)
        # The conflict's packets with those the router discards either way (no one's treatment changes there),
        # merged into as few classes as that allows: fewer entries, the same effect.
        boxes = merged_boxes(conflict.packets + conflict.moot)
        marked_by = "the flows %s marks at line %d" % (conflict.marker.host, conflict.marker.line)
        if entries or criteria:
            # An entry tells packets apart by their headers and byte, not by who marked them: a packet of these
            # flows the router marks with this DSCP itself (a class catching a worm's URL) is exempted too.
            for policy, policy_class, line in markers(self.model, conflict.dscp):
                key = ("policy-map %s class %s marks DSCP %s itself (line %d)" % (
                    policy.name, policy_class.name, dsfield.dscp_label(conflict.dscp), line), conflict.treatment.action)
                self.self_marked.setdefault(key, {}).setdefault(conflict.marker.host, []).append(conflict.marker.line)
        for acl, entry, verb in entries:
            present = _bodies_before(acl, entry)
            words = [item for item in entry_words(boxes, verb, conflict.dscp) if item not in present]
            if not words:
                self.notes.append("%s: %s %s already holds every exemption it needs before line %d; not planned" % (
                    where, _list_words(acl), acl.name, entry.source.line))
                continue
            held = self.before_entries.get(entry.source.line)
            if self._too_many(where, words, held[2] if held else {}, "%s %s" % (_list_words(acl), acl.name)):
                continue
            if held is None:
                held = self.before_entries[entry.source.line] = (acl, entry, {}, [])
            held[2].update(dict.fromkeys(words))
            held[3].append("%s %s (%s): DSCP %s packets of %s (%s) are no longer %s there; every other packet with "
                           "that DSCP still is" % (
                               _list_words(acl), acl.name, ", ".join(self.model.users(acl_kind(acl), acl.name))
                               or "not applied", dsfield.dscp_label(conflict.dscp), marked_by,
                               "; ".join("`%s`" % item for item in words), "matched" if verb == "deny" else "denied"))
        for class_map, criterion in criteria:
            words = entry_words(boxes, "permit", conflict.dscp)
            line = criterion.source.line
            known = self.around_criteria.get(line)
            held_words = known[2].get(conflict.family, {}) if known else {}
            if self._too_many(where, words, held_words, "class-map %s" % class_map.name):
                continue
            if known is None:
                known = self.around_criteria[line] = (class_map, criterion, {}, [])
            known[2].setdefault(conflict.family, {}).update(dict.fromkeys(words))
            known[3].append("class-map %s (%s): DSCP %s packets of %s (%s) no longer match it; every other packet "
                            "with that DSCP still does" % (
                                class_map.name, ", ".join(self.model.users("class-map", class_map.name))
                                or "not used", dsfield.dscp_label(conflict.dscp), marked_by,
                                "; ".join("`%s`" % item for item in words)))

    def _too_many(self, where: str, words: list[str], held: t.Mapping[str, None], place: str) -> bool:
        total = len(dict.fromkeys(list(held) + words))
        if total > ENTRY_LIMIT:
            self.notes.append("%s: exempting its flows takes %d entries in %s (more than %d): not planned" % (
                where, total, place, ENTRY_LIMIT))
            return True
        return False

    def write(self) -> None:
        for (marks, fate), flows in self.self_marked.items():
            said = []
            for host, lines in flows.items():
                numbers = sorted(set(lines))
                said.append("%s marks at line%s %s" % (host, "s" if len(numbers) > 1 else "",
                                                       ", ".join(str(line) for line in numbers)))
            self.lost.append("%s: packets of the flows %s that it marks are exempted too, and no longer %s" % (
                marks, "; ".join(said), fate))
        for line, (acl, entry, words, gives_up) in sorted(self.before_entries.items()):
            written = _entry_lines(self.model, acl, entry, list(words))
            if written is None:
                self.notes.append("%s %s: no free sequence numbers before line %d for %d exemption entries: not "
                                  "planned; resequence the list first (%s access-list resequence %s 10 10)" % (
                                      _list_words(acl), acl.name, line, len(words),
                                      "ipv6" if acl.family == 6 else "ip", acl.name))
                continue
            self.text.insert_before(line, written)
            self.lost.extend(gives_up)
            self.actions.append(Action("add", "%d exemption entr%s in %s %s" % (
                len(words), "y" if len(words) == 1 else "ies", _list_words(acl), acl.name),
                ((line, entry.source.text),),
                "before the entry that catches the conflicting flows, matching exactly them with their DSCP"))
        taken = set(self.model.config.acls) | set(self.model.config.acls6) | set(self.model.config.class_maps)
        for line, (class_map, criterion, by_family, gives_up) in sorted(self.around_criteria.items()):
            self._around(class_map, criterion, {family: list(words) for family, words in by_family.items()}, taken)
            self.lost.extend(gives_up)

    def _around(self, class_map: ClassMap, criterion: Criterion, by_family: dict[int, list[str]],
                taken: set[str]) -> None:
        """The criterion no longer matches the exempted flows: `match not access-group` beside it in a match-all
        class-map; in a match-any one, the criterion moves into a match-all class-map of its own that has it.

        `match access-group name` reads the IPv4 list of that name for IPv4 packets and the IPv6 one for IPv6
        packets: a criterion of both families (`match dscp`) gets both lists, the family with nothing to exempt
        a list that matches nothing, so that its packets meet the class exactly as before."""
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", class_map.name).strip("-") or "CLASS"
        acl_name = _fresh("DIFFSERV-EXEMPT-%s" % base, taken)
        families = (4,) if criterion.family == 4 else (4, 6)
        for family in families:
            words = by_family.get(family) or ["deny ip any any" if family == 4 else "deny ipv6 any any"]
            if family == 4:
                words = ["deny   " + item[5:] if item.startswith("deny ") else item for item in words]
            else:
                # IOS prints an IPv6 entry with its number last, as it numbers a new list: 10, 20, ...
                words = ["%s sequence %d" % (item, 10 * (index + 1)) for index, item in enumerate(words)]
            header = "ipv6 access-list %s" % acl_name if family == 6 else "ip access-list extended %s" % acl_name
            self.text.insert_section([header] + [" " + item for item in words] + ["!"])
        raw = self.text.line(criterion.source.line)
        indent = raw[:ConfigText.indent_of(raw)] or " "
        exempt = "match not access-group name %s" % acl_name
        if class_map.match_all:
            self.text.insert_after(criterion.source.line, [indent + exempt])
            done = "`%s` beside `%s`" % (exempt, raw.strip())
        else:
            nested = _fresh("DIFFSERV-%s-DSCP" % base, taken)
            self.text.insert_section(["class-map match-all %s" % nested, " " + raw.strip(), " " + exempt, "!"])
            self.text.replace(criterion.source.line, indent + "match class-map %s" % nested)
            done = "`%s` replaced by `match class-map %s` (match-all: `%s` and `%s`)" % (
                raw.strip(), nested, raw.strip(), exempt)
        count = sum(len(words) for words in by_family.values())
        self.actions.append(Action(
            "add", "%s %s with %d exemption entr%s; in class-map %s, %s" % (
                " and ".join("ipv6 access-list" if family == 6 else "access-list" for family in families), acl_name,
                count, "y" if count == 1 else "ies", class_map.name, done),
            ((criterion.source.line, criterion.source.text),),
            "the class-map matches the byte itself: it now leaves out exactly the conflicting flows with their DSCP"))

    def change(self, router: Router) -> HostChange:
        candidate = self.text.render(0)
        stages = (Stage("exempt exactly the conflicting flows from what catches them (the exemptions are defined "
                        "before anything names them)", candidate),) if candidate != router.host.text else ()
        return HostChange(self.host, "ios", router.host.managed, router.host.source, router.host.text, stages,
                          actions=tuple(self.actions), protections_lost=tuple(dict.fromkeys(self.lost)),
                          notes=tuple(dict.fromkeys(self.notes)))


def _fresh(name: str, taken: set[str]) -> str:
    found, suffix = name, 1
    while found in taken:
        suffix += 1
        found = "%s-%d" % (name, suffix)
    taken.add(found)
    return found


def plan(fleet: Fleet, conflicts: t.Sequence[Conflict], options: Options) -> Planned:
    """Per router on a conflict's path: exemptions of exactly its flows from whatever catches them."""
    changes: list[HostChange] = []
    windows: list[Window] = []
    # Conflicts read back without their packets (findings.json): each link joined again once, for all of them.
    joined: dict[tuple[str, str, int], list[Conflict]] = {}
    for router, here in by_router(fleet, conflicts):
        host = router.host.host
        exemptions = _Exemptions(router)
        for conflict in here:
            firewall = fleet.firewalls.get(conflict.marker.host)
            if not conflict.packets and firewall is not None and firewall.model is not None:
                conflict = with_packets(conflict, firewall.model, _router_input(router), fleet.links, joined)
            if not conflict.packets:
                exemptions.notes.append("DSCP %d %s on %s: which packets meet it is not known here (its link is not "
                                        "in this audit); not planned" % (conflict.dscp, conflict.treatment.action,
                                                                         conflict.treatment.interface))
                continue
            exemptions.add(conflict)
        exemptions.write()
        change = exemptions.change(router)
        changes.append(change)
        if change.actions:
            windows.append(Window(
                between="%s: between the exemption commands (%s)" % (host, "; ".join(a.what for a in change.actions)),
                meanwhile="each exemption takes effect the moment its line is typed: the flows of the lines not yet "
                          "typed fare as they do now, and no other packet's treatment changes at any moment",
                order="entries go into a list by sequence number inside `ip access-list` (`ipv6 access-list`), "
                      "numbered before the entry they exempt from, never with `no access-list N`, which deletes the "
                      "list; a new list and class-map are defined before the class-map line that names them"))
    return Planned(tuple(changes), tuple(windows))


def risks(changes: t.Sequence[HostChange], codepoints: t.Sequence[Codepoint]) -> list[str]:
    """What each exemption gives up: the treatment of exactly the exempted flows, per host."""
    return ["%s: %s" % (change.host, lost) for change in changes for lost in change.protections_lost]


STRATEGY = Strategy("exempt_flows", "Exempt only the conflicting flows from the policy",
                    "exempts exactly the conflicting flows (as the router sees them) and leaves every other packet's "
                    "treatment as it was", plan, risks)
