# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A router's saved `show` outputs -> the core's counters, with TextFSM (controller side: textfsm is
third-party, so this lives in plugin_utils and hands `module_utils/counters.py` plain values).

`diffserv_show_outputs` maps a command to a file of what the device printed:

==========================  ===========================================================
command                     template
==========================  ===========================================================
show access-lists           plugins/textfsm/cisco_ios_show_access-lists.textfsm (ours: ntc-templates
                            9.3.0 drops the DSCP part and the counter of `... dscp 1 (5123 matches)`)
show route-map              plugins/textfsm/cisco_ios_show_route-map.textfsm (ours: ntc's skips
                            `Policy routing matches`)
show policy-map interface   plugins/textfsm/cisco_ios_show_policy-map_interface.textfsm (ours: ntc has
                            none for the counters view)
show ip interface           ntc-templates' cisco_ios_show_ip_interface (interface, access lists) and
                            plugins/textfsm/cisco_ios_show_ip_interface_policy.textfsm (the policy-routing
                            line ntc's skips)
==========================  ===========================================================

An output a template cannot read (a line it does not know, a different command's output) raises
`ShowParseError` naming the file and the command; the caller reports it for that router.

>>> parse_show("show route-map", '''route-map nul, permit, sequence 10
...   Match clauses:
...     ip address (access-lists): 106
...   Set clauses:
...     interface Null0
...   Policy routing matches: 7 packets, 420 bytes''', "r.txt").counters[0].packets
7
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import difflib
import io
import os
import re
import typing as t

try:
    import textfsm
    HAS_TEXTFSM = True
    TEXTFSM_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - exercised only without textfsm
    HAS_TEXTFSM = False
    TEXTFSM_IMPORT_ERROR = import_error

from ansible_collections.diffserv.audit.plugins.module_utils.counters import (
    ACL_ENTRY, CLASS, CLASS_MATCH, MARKED, POLICE, ROUTE_MAP, ConflictObserved, InterfaceState, RouterCounter,
    RuleCounter, conflict_observed, firewall_counters, iptables_counters_text, nft_counters, router_deltas, rule_deltas,
)
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, quote
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "textfsm")
SHOW_ACCESS_LISTS = "show access-lists"
SHOW_ROUTE_MAP = "show route-map"
SHOW_POLICY_MAP_INTERFACE = "show policy-map interface"
SHOW_IP_INTERFACE = "show ip interface"
COMMANDS = (SHOW_ACCESS_LISTS, SHOW_ROUTE_MAP, SHOW_POLICY_MAP_INTERFACE, SHOW_IP_INTERFACE)
_OWN = {SHOW_ACCESS_LISTS: "cisco_ios_show_access-lists.textfsm", SHOW_ROUTE_MAP: "cisco_ios_show_route-map.textfsm",
        SHOW_POLICY_MAP_INTERFACE: "cisco_ios_show_policy-map_interface.textfsm",
        SHOW_IP_INTERFACE: "cisco_ios_show_ip_interface_policy.textfsm"}
NTC_IP_INTERFACE = "cisco_ios_show_ip_interface.textfsm"


class ShowParseError(DiffservError):
    """A saved show output that its template cannot read."""

    def __init__(self, file: str, command: str, reason: str) -> None:
        self.file = file
        self.command = command
        super().__init__("%s: `%s`: %s" % (quote(file), command, quote(reason, 400)))


@dataclasses.dataclass(frozen=True)
class ShowParsed:
    counters: tuple[RouterCounter, ...] = ()
    states: tuple[InterfaceState, ...] = ()


def require_textfsm() -> None:
    """Fail with what to install when textfsm is missing (a controller requirement, requirements.txt)."""
    if not HAS_TEXTFSM:
        raise DiffservError("reading saved show outputs needs the Python package textfsm 2.1.0 on the controller "
                            "(pip install 'textfsm==2.1.0'): %s" % TEXTFSM_IMPORT_ERROR)


def ntc_template(name: str) -> str:
    """The path of an ntc-templates template (the installed package's own folder)."""
    try:
        import ntc_templates  # the one ntc-templates import; a controller dependency like textfsm
    except ImportError as error:
        raise DiffservError("`show ip interface` is read with ntc-templates (pip install 'ntc-templates==9.3.0'): "
                            "%s" % error) from None
    return os.path.join(os.path.dirname(ntc_templates.__file__), "templates", name)


def _rows(template_path: str, text: str, file: str, command: str) -> list[dict[str, t.Any]]:
    try:
        with open(template_path) as handle:
            machine = textfsm.TextFSM(handle)
        rows = machine.ParseText(text)
    except (textfsm.TextFSMError, textfsm.parser.TextFSMTemplateError) as error:
        raise ShowParseError(file, command, "not the output of this command as IOS prints it (%s)" % error) from None
    return [dict(zip(machine.header, row)) for row in rows]


def _int(text: str) -> int | None:
    return int(text) if text not in ("", None) else None


def parse_show(command: str, text: str, file: str) -> ShowParsed:
    """One saved output of one of COMMANDS -> counters and interface states."""
    require_textfsm()
    command = " ".join(command.split()).lower()
    if command not in _OWN:
        raise ShowParseError(file, command, "not read (read: %s)" % ", ".join(COMMANDS))
    text = text.replace("\r\n", "\n")
    rows = _rows(os.path.join(TEMPLATES, _OWN[command]), text, file, command)
    if command == SHOW_ACCESS_LISTS:
        return ShowParsed(tuple(RouterCounter(
            command, ACL_ENTRY, row["NAME"], "%s %s%s" % (row["SEQUENCE"], row["ENTRY"],
                                                          " (%s matches)" % row["MATCHES"] if row["MATCHES"] else ""),
            # An entry IOS prints without a counter has matched nothing since the counters were cleared.
            _int(row["MATCHES"]) or 0, None, int(row["SEQUENCE"]), row["ENTRY"]) for row in rows))
    if command == SHOW_ROUTE_MAP:
        return ShowParsed(tuple(RouterCounter(
            command, ROUTE_MAP, row["NAME"], "route-map %s, %s, sequence %s: Policy routing matches: %s packets, %s bytes"
            % (row["NAME"], row["ACTION"], row["SEQUENCE"], row["PACKETS"], row["BYTES"]),
            _int(row["PACKETS"]), _int(row["BYTES"]), int(row["SEQUENCE"])) for row in rows if row["PACKETS"]))
    if command == SHOW_POLICY_MAP_INTERFACE:
        return ShowParsed(tuple(_policy_counter(command, row) for row in rows))
    try:
        template = ntc_template(NTC_IP_INTERFACE)
    except DiffservError as error:
        raise ShowParseError(file, command, str(error)) from None
    ntc = {row["INTERFACE"]: row for row in _rows(template, text, file, command)}
    states = []
    for row in rows:
        found = ntc.get(row["INTERFACE"], {})
        states.append(InterfaceState(row["INTERFACE"], found.get("INBOUND_ACL") or None, found.get("OUTGOING_ACL") or None,
                                     row["ROUTE_MAP"] or None,
                                     None if not row["POLICY_ROUTING"] else row["POLICY_ROUTING"] == "enabled"))
    return ShowParsed((), tuple(states))


def _policy_counter(command: str, row: dict[str, t.Any]) -> RouterCounter:
    common = dict(command=command, name=row["POLICY"], entry=row["CLASS"], interface=row["INTERFACE"],
                  direction=row["DIRECTION"])
    if row["OUTCOME"]:
        return RouterCounter(kind=POLICE, text="%s %s packets, %s bytes" % (row["OUTCOME"], row["PACKETS"], row["BYTES"]),
                             packets=_int(row["PACKETS"]), bytes=_int(row["BYTES"]), detail=row["OUTCOME"], **common)
    if row["MARKED"]:
        return RouterCounter(kind=MARKED, text="QoS Set %s: Packets marked %s" % (row["SET"], row["MARKED"]),
                             packets=_int(row["MARKED"]), detail=row["SET"], **common)
    if row["MATCH"]:
        return RouterCounter(kind=CLASS_MATCH, text="Match: %s: %s packets, %s bytes" % (row["MATCH"], row["PACKETS"], row["BYTES"]),
                             packets=_int(row["PACKETS"]), bytes=_int(row["BYTES"]), detail=row["MATCH"], **common)
    return RouterCounter(kind=CLASS, text="Class-map: %s: %s packets, %s bytes" % (row["CLASS"], row["PACKETS"], row["BYTES"]),
                         packets=_int(row["PACKETS"]), bytes=_int(row["BYTES"]), **common)


def read_show_outputs(outputs: t.Mapping[str, str], base: str | None = None
                      ) -> tuple[ShowParsed, list[ShowParseError]]:
    """`diffserv_show_outputs` (command -> file) -> everything they gave, and each file's error
    (a file that cannot be read or parsed is one error; the others still count)."""
    texts: dict[str, tuple[str, str]] = {}
    errors: list[ShowParseError] = []
    for command, given in outputs.items():
        path = given if os.path.isabs(given) or base is None else os.path.join(base, given)
        try:
            with io.open(path, encoding="utf-8", errors="replace") as handle:
                texts[command] = (handle.read(), given)
        except OSError as error:
            errors.append(ShowParseError(given, command, "cannot read the file: %s" % (error.strerror or error)))
    parsed, found = read_show_texts(texts)
    return parsed, errors + found


def read_show_texts(outputs: t.Mapping[str, tuple[str, str]]) -> tuple[ShowParsed, list[ShowParseError]]:
    """The text path: command -> (what the device printed, where it came from: a file, or
    `user@host:port (show access-lists)` for a live reading) -> everything they gave, and the errors."""
    counters: list[RouterCounter] = []
    states: list[InterfaceState] = []
    errors: list[ShowParseError] = []
    for command, (text, source) in outputs.items():
        try:
            parsed = parse_show(command, text, source)
        except ShowParseError as error:
            errors.append(error)
            continue
        counters.extend(parsed.counters)
        states.extend(parsed.states)
    return ShowParsed(tuple(counters), tuple(states)), errors


@dataclasses.dataclass(frozen=True)
class LiveReadings:
    """One host's counters read live (diffserv_counters): each reading command -> (text, source),
    the first reading first; `interval` the seconds between the first and the last (None: one reading)."""

    readings: tuple[t.Mapping[str, tuple[str, str]], ...]
    interval: float | None = None


# A counted dump's line with its counters taken out, to line it up with the dump the audit analysed.
_IPT_COUNTS = re.compile(r"^\[\d+:\d+\]\s+|(?<=\s)(?:-c|--set-counters)\s+\d+\s+\d+(?=\s|$)|\s\[\d+:\d+\]$")
_NFT_COUNTS = re.compile(r"(?<=\bcounter) packets \d+ bytes \d+")


def _plain(line: str) -> str:
    line = line.strip()
    if line.startswith("#"):
        return "#"  # iptables-save's dated header and trailer comments
    return _NFT_COUNTS.sub("", _IPT_COUNTS.sub("", line)).strip()


def counted_lines(analysed: str, counted: str) -> dict[int, int]:
    """Line of the counted reading -> line of the analysed text, where the two hold the same rule
    (the counted dump and the analysed one were taken moments apart: the same rules, unless the
    host changed them in between, which then leaves those lines out)."""
    mine = [_plain(line) for line in analysed.splitlines()]
    theirs = [_plain(line) for line in counted.splitlines()]
    matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
    found: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            found[block.a + offset + 1] = block.b + offset + 1
    return found


def _firewall_reading(analysed: str, counted: str, file: str) -> dict[int, RuleCounter]:
    reading = iptables_counters_text(counted, file)
    if not reading and "counter" in counted:
        reading = nft_counters(counted, file)
    lines = counted_lines(analysed, counted)
    return {lines[line]: dataclasses.replace(counter, file=file, line=lines[line])
            for line, counter in reading.items() if line in lines}


def live_firewall_counters(analysed: str, live: LiveReadings, file: str) -> tuple[dict[int, RuleCounter] | None, list[str]]:
    """A firewall's rule counters from its live readings (the analysed dump's line numbers), with the
    deltas between the first and the last reading; notes on what could not be lined up."""
    readings = [reading for reading in live.readings if reading]
    if not readings:
        return None, []
    notes = []

    def counted(reading: t.Mapping[str, tuple[str, str]]) -> dict[int, RuleCounter]:
        found: dict[int, RuleCounter] = {}
        for command, (text, source) in reading.items():
            if command.startswith("ip6tables") or not text.strip():
                continue  # the join reads IPv4; an empty text is a refused command
            found.update(_firewall_reading(analysed, text, file))
        return found

    last = counted(readings[-1])
    if len(readings) > 1:
        last = rule_deltas(last, counted(readings[0]))
    if not last:
        notes.append("the live counter reading of %s holds no counter for the analysed rules" % file)
    return last or None, notes


def live_router_counters(live: LiveReadings) -> tuple[ShowParsed, list[ShowParseError]]:
    """A router's live readings -> the last reading's counters (with deltas from the first) and states."""
    readings = [reading for reading in live.readings if reading]
    if not readings:
        return ShowParsed(), []
    last, errors = read_show_texts(readings[-1])
    if len(readings) > 1:
        first, _again = read_show_texts(readings[0])
        last = ShowParsed(router_deltas(last.counters, first.counters), last.states)
    return last, errors


def _grew(found: ConflictObserved, interval: float, conflict: Conflict) -> str:
    """The bridge call's sentence: what grew between the two live readings."""
    parts = []
    if found.firewall is not None and found.firewall.delta_packets is not None:
        parts.append("%s line %d +%d packets" % (conflict.marker.host, found.firewall.line, found.firewall.delta_packets))
    parts.extend("%s +%d packets" % (counter.what, counter.delta_packets) for counter in found.router
                 if counter.delta_packets is not None)
    return "in the %.0f s between the two readings: %s" % (interval, "; ".join(parts) if parts else "no counter grew")


def conflicts_observed(conflicts: t.Sequence[Conflict], firewalls: t.Mapping[str, t.Any], routers: t.Mapping[str, t.Any],
                       show_outputs: t.Mapping[str, t.Mapping[str, str]], firewall_texts: t.Mapping[str, str] | None = None,
                       base: str | None = None, live: t.Mapping[str, LiveReadings] | None = None,
                       ) -> tuple[list[ConflictObserved], list[ShowParseError]]:
    """Each conflict's `observed` (same order as `conflicts`), and the show files that could not be read.

    show_outputs: router host -> its `diffserv_show_outputs` (command -> file); firewall_texts: firewall
    host -> its collected text, needed only for nft counters (iptables-save -c counters come from the
    parsed dump).  firewalls/routers: the loaded fleet's.  live: host -> the counters the live
    collection read (diffserv_counters): a router's show outputs where it has no saved ones, a
    firewall's counted dump, with deltas when read twice.
    """
    live = live or {}
    parsed: dict[str, ShowParsed] = {}
    errors: list[ShowParseError] = []
    for host, outputs in show_outputs.items():
        parsed[host], found = read_show_outputs(outputs, base)
        errors.extend(found)
    for host, readings in live.items():
        if host in routers and host not in parsed:
            parsed[host], found = live_router_counters(readings)
            errors.extend(found)
    counters_of: dict[str, t.Any] = {}
    notes_of: dict[str, list[str]] = {}
    observed = []
    for conflict in conflicts:
        firewall = firewalls.get(conflict.marker.host)
        host = conflict.marker.host
        if host not in counters_of:
            # The text the analysed model was read from (its file names it: a host running iptables beside
            # native nft tables holds two), else the host's first.
            sources = getattr(firewall_texts, "sources", {}).get(host, {})
            text = sources.get(firewall.file) if firewall is not None and firewall.file in sources else \
                (firewall_texts or {}).get(host)
            counters_of[host], notes_of[host] = None, []
            if firewall is not None and host in live and text is not None:
                counters_of[host], notes_of[host] = live_firewall_counters(text, live[host], firewall.file)
            if counters_of[host] is None and firewall is not None:
                counters_of[host] = firewall_counters(firewall, text)
        router = routers.get(conflict.treatment.host)
        shown = parsed.get(conflict.treatment.host, ShowParsed())
        found = conflict_observed(conflict, router.config if router is not None else None, counters_of[host],
                                  shown.counters, shown.states)
        intervals = [live[name].interval for name in (host, conflict.treatment.host)
                     if name in live and live[name].interval is not None]
        if notes_of[host] or intervals:
            interval = max(intervals) if intervals else None
            said = (_grew(found, interval, conflict),) if interval is not None else ()
            found = dataclasses.replace(found, notes=said + tuple(notes_of[host]) + found.notes, interval=interval)
        observed.append(found)
    return observed, errors
