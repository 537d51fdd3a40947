# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed findings: what the audit found, as frozen values; dicts only at the Ansible edge.

The join (analysis.py) builds these; the planner, the bundles and the remediate action read
them by attribute; `as_dict()` gives findings.json (its JSON Schema is `schemas/findings.schema.json`
in the collection) and `Findings.from_dict()` reads it back where Ansible hands findings over as data.

>>> line = Evidence("border.cfg", 46, "access-list 106 permit ip any any dscp 1")
>>> line.as_dict()
{'file': 'border.cfg', 'line': 46, 'text': 'access-list 106 permit ip any any dscp 1'}
>>> Evidence.from_dict(line.as_dict()) == line
True
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2}
SCHEMA_VERSION = 1

JSON = t.Dict[str, t.Any]


class Evidence(t.NamedTuple):
    """One source line, of any device: where it is and what it says (bounded and redacted when shown).

    The one type for every source line: the iptables parser's `Source`, the IOS model's `Evidence`
    and the findings' evidence chains are this.  A NamedTuple, because a kube-proxy dump holds
    tens of thousands of lines and a tuple is the cheapest immutable value to build.
    `what` says what the line did to the packet, where a trace step gave it.
    """

    file: str
    line: int
    text: str
    what: str | None = None

    def where(self) -> str:
        return "%s:%d" % (self.file, self.line)

    def __str__(self) -> str:
        return "%s:%d: %s" % (self.file, self.line, self.text)

    def as_dict(self) -> JSON:
        found: JSON = {"file": self.file, "line": self.line, "text": self.text}
        if self.what is not None:
            found["what"] = self.what
        return found

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Evidence":
        return cls(str(data.get("file", "")), int(data.get("line") or 0), str(data.get("text", "")), data.get("what"))


@dataclasses.dataclass(frozen=True, slots=True)
class Condition:
    """A line the configuration alone cannot decide for these packets (IOS `match cos`, an undefined ACL, ...)."""

    file: str | None
    line: int | None
    text: str
    reason: str

    def as_dict(self) -> JSON:
        return {"file": self.file, "line": self.line, "text": self.text, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Condition":
        return cls(data.get("file"), data.get("line"), str(data.get("text", "")), str(data.get("reason", "")))


@dataclasses.dataclass(frozen=True, slots=True)
class Marker:
    """The firewall end of the evidence chain: the rule that wrote the byte (the last writer of the class)."""

    host: str
    file: str
    line: int
    rule: str
    chain: str
    table: str
    writers: tuple[int, ...]
    backend: str
    tos_semantics: str

    def as_dict(self) -> JSON:
        return {"host": self.host, "file": self.file, "line": self.line, "rule": self.rule, "chain": self.chain,
                "table": self.table, "writers": list(self.writers), "backend": self.backend,
                "tos_semantics": self.tos_semantics}

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Marker":
        return cls(data["host"], data["file"], int(data["line"]), data["rule"], data.get("chain", ""),
                   data.get("table", ""), tuple(data.get("writers", ())), data.get("backend", ""),
                   data.get("tos_semantics", ""))


@dataclasses.dataclass(frozen=True, slots=True)
class Treatment:
    """The router end: what the router does to the marked packets on the link, with the deciding lines."""

    host: str
    file: str
    interface: str
    out_interfaces: tuple[str, ...]
    direction: str
    action: str
    summary: str
    unmarked_action: str
    tos_out: int | None
    may_match: tuple[Condition, ...]
    remarked_unknown: bool
    lines: tuple[Evidence, ...]
    confirmed_by_trace: bool
    example_packet: t.Mapping[str, t.Any]

    def as_dict(self) -> JSON:
        return {"host": self.host, "file": self.file, "interface": self.interface,
                "out_interfaces": list(self.out_interfaces), "direction": self.direction, "action": self.action,
                "summary": self.summary, "unmarked_action": self.unmarked_action, "tos_out": self.tos_out,
                "may_match": [c.as_dict() for c in self.may_match], "remarked_unknown": self.remarked_unknown,
                "lines": [line.as_dict() for line in self.lines], "confirmed_by_trace": self.confirmed_by_trace,
                "example_packet": dict(self.example_packet)}

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Treatment":
        return cls(data["host"], data["file"], data["interface"], tuple(data.get("out_interfaces", ())),
                   data.get("direction", "in"), data["action"], data.get("summary", ""), data.get("unmarked_action", ""),
                   data.get("tos_out"), tuple(Condition.from_dict(c) for c in data.get("may_match", ())),
                   bool(data.get("remarked_unknown")), tuple(Evidence.from_dict(line) for line in data.get("lines", ())),
                   bool(data.get("confirmed_by_trace")), dict(data.get("example_packet") or {}))


@dataclasses.dataclass(frozen=True, slots=True)
class Flow:
    """Which packets a conflict concerns, in dimensions and in words."""

    protocols: t.Any  # a list of protocol names, or "any"
    sport: t.Any  # a list of port ranges as text, or "any"
    dport: t.Any
    src: t.Any
    dst: t.Any
    out_interfaces: t.Any
    path: str
    classes: int
    words: str
    # True: only these packets of the marking classes meet the conflict's fate (the router treats the
    # rest of them as it treats them unmarked); the dimensions above are then the intersected part.
    partial: bool = False
    family: int = 4

    def as_dict(self) -> JSON:
        found: JSON = {"protocols": self.protocols, "sport": self.sport, "dport": self.dport, "src": self.src,
                       "dst": self.dst, "out_interfaces": self.out_interfaces, "path": self.path,
                       "classes": self.classes, "words": self.words}
        if self.partial:
            found["partial"] = True
        if self.family != 4:
            found["family"] = self.family
        return found

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Flow":
        return cls(data.get("protocols", "any"), data.get("sport", "any"), data.get("dport", "any"), data.get("src", "any"),
                   data.get("dst", "any"), data.get("out_interfaces", "any"), data.get("path", "forward"),
                   int(data.get("classes", 1)), data.get("words", ""), bool(data.get("partial")),
                   int(data.get("family") or 4))


@dataclasses.dataclass(frozen=True, slots=True)
class LinkRef:
    """A path as findings name it: `from` firewall:egress (or `*`), `to` router:interface."""

    source: str
    target: str
    assumed: bool

    def as_dict(self) -> JSON:
        return {"from": self.source, "to": self.target, "assumed": self.assumed}

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "LinkRef":
        return cls(str(data.get("from", "")), str(data.get("to", "")), bool(data.get("assumed")))


@dataclasses.dataclass(frozen=True, slots=True)
class Conflict:
    """A DS byte a firewall writes that a router treats differently from the same packets unmarked."""

    dscp: int
    ds_byte: int
    describe: str
    severity: str
    marker: Marker
    treatment: Treatment
    flows: tuple[Flow, ...]
    path_assumed: bool
    link: LinkRef
    # The address family of the marked packets (4: IPv4 DS byte; 6: IPv6 Traffic Class); findings.json
    # names it only for 6, so an IPv4 conflict reads as it always did.
    family: int = 4
    # Exactly which packets meet the conflict's fate, as the router sees them (after the firewall's NAT): the
    # join's parts (ios/space.PacketClass), for the planner's exemptions.  Not in findings.json (the flows say
    # them in words): a conflict read back from it has none, and the planner joins its link again.
    packets: tuple[t.Any, ...] = dataclasses.field(default=(), compare=False, repr=False)
    # Packets of the same marking classes that the router discards marked or not (an anti-spoofing ACL's
    # sources): an exemption may cover them too, at no cost to anyone, and be written in fewer entries.
    moot: tuple[t.Any, ...] = dataclasses.field(default=(), compare=False, repr=False)

    @property
    def flow_classes(self) -> int:
        return sum(flow.classes for flow in self.flows)

    def sort_key(self) -> tuple[t.Any, ...]:
        # Most severe first; within a severity, the conflict behind the most flows first (on the
        # founding incident: the replies to every connection the client opens, line 35).
        return (SEVERITY_ORDER[self.severity], -self.flow_classes, self.marker.host, self.marker.line,
                self.treatment.host, self.treatment.interface, self.family)

    def as_dict(self) -> JSON:
        return {"dscp": self.dscp, "ds_byte": self.ds_byte, "describe": self.describe, "severity": self.severity,
                "marker": self.marker.as_dict(), "treatment": self.treatment.as_dict(),
                "flows": [flow.as_dict() for flow in self.flows], "path_assumed": self.path_assumed,
                "link": self.link.as_dict(), **({"family": self.family} if self.family != 4 else {})}

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Conflict":
        return cls(int(data["dscp"]), int(data["ds_byte"]), data.get("describe", ""), data["severity"],
                   Marker.from_dict(data["marker"]), Treatment.from_dict(data["treatment"]),
                   tuple(Flow.from_dict(flow) for flow in data.get("flows", ())), bool(data.get("path_assumed")),
                   LinkRef.from_dict(data.get("link") or {}), int(data.get("family") or 4))


@dataclasses.dataclass(frozen=True, slots=True)
class Advisory:
    """A risk that is not a conflict yet (DSCP 1 dropped although it is Lower-Effort, ...)."""

    kind: str
    host: str
    interface: str | None
    direction: str | None
    text: str
    lines: tuple[Evidence, ...]

    def as_dict(self) -> JSON:
        found: JSON = {"kind": self.kind, "host": self.host, "interface": self.interface, "text": self.text,
                       "lines": [line.as_dict() for line in self.lines]}
        if self.direction is not None:
            found["direction"] = self.direction
        return found

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Advisory":
        return cls(data["kind"], data["host"], data.get("interface"), data.get("direction"), data.get("text", ""),
                   tuple(Evidence.from_dict(line) for line in data.get("lines", ())))


@dataclasses.dataclass(frozen=True, slots=True)
class HostError:
    """A host (or, with host None, a link) that could not be collected, parsed or analysed."""

    host: str | None
    reason: str
    stage: str | None = None
    unreachable: bool | None = None
    links: tuple[str, ...] = ()
    link: LinkRef | None = None

    def as_dict(self) -> JSON:
        found: JSON = {"host": self.host, "reason": self.reason}
        if self.stage is not None:
            found["stage"] = self.stage
        if self.unreachable is not None:
            found["unreachable"] = self.unreachable
        if self.links:
            found["links"] = list(self.links)
        if self.link is not None:
            found["link"] = self.link.as_dict()
        return found

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "HostError":
        link = data.get("link")
        return cls(data.get("host"), str(data.get("reason", "")), data.get("stage"), data.get("unreachable"),
                   tuple(data.get("links", ())), LinkRef.from_dict(link) if link else None)


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    """An input line that could matter but that the model does not understand (or a note on how it was read)."""

    host: str
    file: str
    line: int | None
    text: str
    reason: str

    def as_dict(self) -> JSON:
        return {"host": self.host, "file": self.file, "line": self.line, "text": self.text, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Note":
        return cls(data.get("host", ""), data.get("file", ""), data.get("line"), data.get("text", ""), data.get("reason", ""))


@dataclasses.dataclass(frozen=True, slots=True)
class NotAudited:
    host: str
    reason: str

    def as_dict(self) -> JSON:
        return {"host": self.host, "reason": self.reason}


@dataclasses.dataclass(frozen=True, slots=True)
class Findings:
    """Everything one audit found. `unused` entries stay plain data (the router model's own as_dict)."""

    conflicts: tuple[Conflict, ...]
    advisories: tuple[Advisory, ...]
    errors: tuple[HostError, ...]
    unmodeled: tuple[Note, ...]
    unused: tuple[JSON, ...]
    links: tuple[LinkRef, ...]
    firewalls: tuple[str, ...]
    routers: tuple[str, ...]
    not_audited: tuple[NotAudited, ...] = ()

    def with_not_audited(self, not_audited: t.Mapping[str, str]) -> "Findings":
        return dataclasses.replace(self, not_audited=tuple(NotAudited(host, reason) for host, reason in sorted(not_audited.items())))

    @property
    def summary(self) -> JSON:
        found: JSON = {
            "conflicts": len(self.conflicts),
            "critical": sum(1 for c in self.conflicts if c.severity == "critical"),
            "high": sum(1 for c in self.conflicts if c.severity == "high"),
            "medium": sum(1 for c in self.conflicts if c.severity == "medium"),
            "firewalls": sorted(self.firewalls), "routers": sorted(self.routers),
            "errors": len(self.errors), "paths_assumed": any(link.assumed for link in self.links),
            "not_audited": len(self.not_audited),
        }
        return found

    def as_dict(self) -> JSON:
        return {
            "summary": self.summary,
            "conflicts": [c.as_dict() for c in self.conflicts],
            "advisories": [a.as_dict() for a in self.advisories],
            "errors": [e.as_dict() for e in self.errors],
            "unmodeled": [n.as_dict() for n in self.unmodeled],
            "unused": [dict(u) for u in self.unused],
            "links": [link.as_dict() for link in self.links],
            "not_audited": [n.as_dict() for n in self.not_audited],
        }

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]) -> "Findings":
        summary = data.get("summary") or {}
        return cls(
            tuple(Conflict.from_dict(c) for c in data.get("conflicts", ())),
            tuple(Advisory.from_dict(a) for a in data.get("advisories", ())),
            tuple(HostError.from_dict(e) for e in data.get("errors", ())),
            tuple(Note.from_dict(n) for n in data.get("unmodeled", ())),
            tuple(dict(u) for u in data.get("unused", ())),
            tuple(LinkRef.from_dict(link) for link in data.get("links", ())),
            tuple(summary.get("firewalls", ())), tuple(summary.get("routers", ())),
            tuple(NotAudited(n["host"], n["reason"]) for n in data.get("not_audited", ())),
        )


def as_findings(given: "Findings | t.Mapping[str, t.Any]") -> Findings:
    """Typed findings from either form: the core's own value, or findings.json's data where Ansible hands it over."""
    return given if isinstance(given, Findings) else Findings.from_dict(given)
