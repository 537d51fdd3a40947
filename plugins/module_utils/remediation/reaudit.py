# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The re-audit: the audited fleet parsed once, and analysis.analyze run again on candidates.

`build_fleet` parses every audited host once, with the links and the firewall engines (backend,
TOS semantics) the audit used; `audit_texts` re-runs the audit with some hosts' texts replaced
(re-parsing only those); `recheck` and `stage_problems` are what a plan is judged by: a
candidate fleet with no conflict and no error, and no intermediate stage with a conflict the
running fleet did not have or a reference to a missing object (semantics.md, "What counts as a
conflict").

    fleet = build_fleet(findings, hosts, Options())
    audit_texts(fleet, {"border-rtr1": candidate}).conflicts         # () once fixed

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.analysis import (
    FirewallInput, JoinMemo, Link, RouterInput, analyze, with_family,
)
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict, Findings, HostError, as_findings
from ansible_collections.diffserv.audit.plugins.module_utils.ios.links import link_diagnostics
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import IosConfig
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.loader import load_host
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.markmap import MarkingMap
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import HostChange, HostText, Recheck

if t.TYPE_CHECKING:  # pragma: no cover - annotations only (the registry imports the strategies, which import this)
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.strategies import Options


@dataclasses.dataclass
class Router:
    """An audited router: its text and its parsed configuration."""

    host: HostText
    config: IosConfig


@dataclasses.dataclass
class Firewall:
    """An audited firewall: the dump the strategies plan from (IPv4; an IPv6-only host's IPv6 dump), its marking
    map, and the engine the audit applied."""

    host: HostText
    ruleset: Ruleset
    marks: MarkingMap
    backend: str
    era: str
    egresses: tuple[str | None, ...]
    # The audited model with every family (its `ipv6` beside the IPv4 one the strategies plan from):
    # a re-audit joins both, so a candidate that leaves IPv6 conflicts is not called clean.
    model: FirewallInput | None = None

    def part(self, family: int) -> "Firewall | None":
        """The host's dump of `family` as the strategies plan from it: this one, or the IPv6 dump beside the IPv4
        one of a host collected with both (`host.ipv6`, read as the audit read it); None when there is none."""
        if self.ruleset.family == family:
            return self
        six = self.model.ipv6 if self.model is not None else None
        if family != 6 or self.host.ipv6 is None or six is None or six.file != self.host.ipv6.source:
            return None
        return Firewall(self.host.ipv6, six.ruleset, six.marks, six.marks.program.backend, six.marks.program.era,
                        self.egresses, six)

    def beside(self, family: int) -> "Firewall | None":
        """The dump of `family` beside the host's text (its IPv6 dump, of a host collected with both), where a
        change of that family goes; None when that family's dump is the host's text, or there is none."""
        part = self.part(family)
        return part if part is not None and part is not self else None


@dataclasses.dataclass
class Fleet:
    """The audited hosts parsed once, with the links the audit used (None: every path assumed)."""

    routers: dict[str, Router]
    firewalls: dict[str, Firewall]
    links: list[Link] | None
    hosts: dict[str, HostText]
    audited: tuple[str, ...]
    # Each link's conflicts on the audited models: a candidate's re-audit joins only its own host's links.
    joins: JoinMemo = dataclasses.field(default_factory=JoinMemo)
    # Each candidate text loaded once: the re-audit of all hosts, of ours only, and the stage checks
    # meet the same texts again.
    loaded: dict[tuple[str, ...], t.Any] = dataclasses.field(default_factory=dict)
    # Audited firewalls no strategy plans for (an IPv6 dump beside the IPv4 one of a host the strategies
    # plan from; an IPv6 dump with no text to plan from): joined as audited in every re-audit, so their
    # conflicts still count.
    joined_only: dict[str, FirewallInput] = dataclasses.field(default_factory=dict)

    def load(self, host: HostText, text: str, egresses: t.Sequence[str | None], backend: str, era: str,
             family: int | None = None) -> t.Any:
        """A candidate text's model, loaded once; a firewall's text is read as its dump of `family` (None: the
        family of the dump the host plans from)."""
        key = ("model", host.host, text)
        if key not in self.loaded:
            if host.host in self.routers:
                # A router's model is its parsed configuration: one parse serves the re-audit, the stage
                # checks and the ACL listings of the bundle.
                self.loaded[key] = RouterInput(host.host, host.source, self.config(text, host.source), host.managed)
            else:
                known = self.firewalls.get(host.host)
                self.loaded[key] = _load(host, text, egresses, backend, era, family if family is not None else
                                         known.ruleset.family if known is not None else None)
        return self.loaded[key]

    def remember(self, host: HostText, text: str, model: FirewallInput | RouterInput) -> None:
        """The model of a candidate text a strategy built already (a proof's parsed dump and marking map)."""
        self.loaded[("model", host.host, text)] = model

    def config(self, text: str, source: str) -> IosConfig:
        """A router text parsed once per planning run (running and each stage: re-audits, stage checks, listings)."""
        key = ("config", source, text)
        if key not in self.loaded:
            self.loaded[key] = parse_ios(text, source)
        return t.cast(IosConfig, self.loaded[key])

    def __post_init__(self) -> None:
        # The audited configurations are the running texts every plan starts from.
        for router in self.routers.values():
            self.loaded[("config", router.host.source, router.host.text)] = router.config


def _links_from(findings: Findings) -> list[Link] | None:
    """The links the audit used: explicit ones again, or None to let analyze assume them again."""
    given = [link for link in findings.links if not link.assumed]
    if not given:
        return None
    links = []
    for link in given:
        firewall, _colon, egress = link.source.partition(":")
        router, _colon2, interface = link.target.partition(":")
        links.append(Link(firewall, None if egress in ("", "*") else egress, router, interface))
    return links


def _engine_of(findings: Findings, host: str, options: Options) -> tuple[str, str]:
    """The backend and TOS semantics the audit applied to a firewall (the conflicts say), else the options'."""
    for conflict in findings.conflicts:
        marker = conflict.marker
        if marker.host == host:
            return marker.backend or options.backend, marker.tos_semantics or options.tos_semantics
    return options.backend, options.tos_semantics


def build_fleet(findings: Findings | t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText], options: Options) -> Fleet:
    """The audited hosts parsed once, with the links and engines the audit used.

    `findings` is what analysis.analyze returned (its hosts name the audited ones, its links and
    conflicts say which links and engines were used; findings.json's dict form is read at this
    edge); a host the audit did not read is left out.
    """
    findings = as_findings(findings)
    audited = tuple(sorted(set(findings.firewalls) | set(findings.routers))) or tuple(sorted(hosts))
    links = _links_from(findings)
    routers: dict[str, Router] = {}
    firewalls: dict[str, Firewall] = {}
    joined_only: dict[str, FirewallInput] = {}
    for name in audited:
        host = hosts.get(name)
        if host is None:
            continue
        backend, era = _engine_of(findings, name, options)
        egresses = tuple(sorted({link.egress for link in links or [] if link.firewall == name}, key=lambda e: e or ""))
        model = _load(host, host.text, egresses, backend, era)
        if isinstance(model, FirewallInput) and host.ipv6 is not None:
            # Both dumps collected: the IPv6 one rides beside the IPv4 one, as the loader joins them.
            beside = _load(host.ipv6, host.ipv6.text, egresses, backend, era, 6)
            if isinstance(beside, FirewallInput):
                model = with_family(model, beside)
        if isinstance(model, RouterInput):
            routers[name] = Router(host, model.config)
        elif isinstance(model, FirewallInput):
            # The host's text is the dump the strategies plan from, of either family.
            firewalls[name] = Firewall(host, model.ruleset, model.marks, backend, era, egresses, model)
    return Fleet(routers, firewalls, links, dict(hosts), audited, joined_only=joined_only)


def _load(host: HostText, text: str, egresses: t.Sequence[str | None], backend: str,
          era: str, family: int | None = None) -> FirewallInput | RouterInput | None:
    """One host's text through its platform's driver, as the audit loaded it (loader.load_host); `family` 6
    reads a firewall's text as its IPv6 dump (the item the audit read it from)."""
    item = {"name": platforms.driver(host.platform).saved_item_name(family), "source": host.source, "text": text}
    firewall, router, _notes = load_host(host.host, {"platform": host.platform, "managed": host.managed, "files": [item]},
                                         [egress for egress in egresses if egress], backend, era)
    return firewall if firewall is not None else router


def fleet_from_loaded(findings: Findings | t.Mapping[str, t.Any], hosts: t.Mapping[str, HostText],
                      routers: t.Mapping[str, RouterInput], firewalls: t.Mapping[str, FirewallInput],
                      joins: JoinMemo | None = None) -> Fleet:
    """The re-audit fleet from the models the audit itself loaded (loader.load_fleet): nothing is parsed
    again, so a run parses each text once; the candidates' re-audits re-parse only the hosts they change.
    `joins`: the audit's own per-link conflicts on those models (loader.Fleet.joins, filled by analyze), so
    that no re-audit joins an unchanged link again."""
    findings = as_findings(findings)
    audited = tuple(sorted(set(findings.firewalls) | set(findings.routers))) or tuple(sorted(hosts))
    links = _links_from(findings)
    fleet_routers = {name: Router(hosts[name], routers[name].config) for name in audited if name in hosts and name in routers}
    fleet_firewalls = {}
    joined_only: dict[str, FirewallInput] = {}
    for name in audited:
        if name not in hosts or name not in firewalls:
            continue
        model = firewalls[name]
        if model.family != 4 and not _plans_from(hosts[name], model):
            joined_only[name] = model  # an IPv6 dump the host's text is not: re-audited as audited
            continue
        marks = model.marks
        egresses = tuple(sorted({link.egress for link in links or [] if link.firewall == name}, key=lambda e: e or ""))
        fleet_firewalls[name] = Firewall(hosts[name], model.ruleset, marks, marks.program.backend,
                                         marks.program.era, egresses, model)
    return Fleet(fleet_routers, fleet_firewalls, links, dict(hosts), audited, joins=joins or JoinMemo(),
                 joined_only=joined_only)


def _plans_from(host: HostText, model: FirewallInput) -> bool:
    """Whether the host's text (the item the strategies plan from) is this model's dump."""
    return host.source == model.file


def split_texts(fleet: Fleet, given: t.Iterable[tuple[HostChange, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Texts of changes (a candidate, a stage, what a device prints back) -> (the hosts' texts, the IPv6 dumps
    beside the IPv4 ones of hosts collected with both): audit_texts' two arguments."""
    texts: dict[str, str] = {}
    ipv6: dict[str, str] = {}
    for change, text in given:
        known = fleet.firewalls.get(change.host)
        (ipv6 if known is not None and known.beside(change.family) is not None else texts)[change.host] = text
    return texts, ipv6


def audit_texts(fleet: Fleet, texts: t.Mapping[str, str], ipv6: t.Mapping[str, str] | None = None) -> Findings:
    """The audit of the fleet with some hosts' texts replaced: analysis.analyze, as the action plugin runs it.
    `ipv6`: host -> its IPv6 dump replaced, for hosts collected with both dumps (Firewall.part(6))."""
    firewalls: dict[str, FirewallInput] = {}
    routers: dict[str, RouterInput] = {}
    errors: list[HostError] = []
    for name in fleet.audited:
        host = fleet.hosts.get(name)
        if host is None:
            continue
        text = texts.get(name, host.text)
        try:
            if name in fleet.routers:
                router = fleet.routers[name]
                model = RouterInput(name, host.source, router.config, host.managed) if text == host.text else \
                    fleet.load(host, text, (), "auto", "auto")
                if model is not None:
                    routers[name] = t.cast(RouterInput, model)
            elif name in fleet.firewalls:
                known = fleet.firewalls[name]
                # Only the host a candidate changes is parsed again; every other host keeps its model.
                audited_model = known.model or FirewallInput(name, host.source, known.ruleset, known.marks)
                if text == host.text:
                    model = dataclasses.replace(audited_model, managed=host.managed)
                else:
                    model = fleet.load(host, text, known.egresses, known.backend, known.era)
                    if isinstance(model, FirewallInput) and model.family == 4 and model.ipv6 is None:
                        # The candidate changes the text the strategies plan from (the IPv4 dump): the host's
                        # IPv6 dump stays as audited, and its conflicts still count.
                        model = dataclasses.replace(model, ipv6=audited_model.ipv6)
                part = known.beside(6) if ipv6 is not None and name in ipv6 else None
                if part is not None and isinstance(model, FirewallInput) and ipv6 is not None \
                        and ipv6[name] != part.host.text:
                    # The IPv6 dump beside it changed too: read in its own family, and joined in place of the audited one.
                    beside = fleet.load(part.host, ipv6[name], part.egresses, part.backend, part.era, 6)
                    if isinstance(beside, FirewallInput):
                        model = with_family(model, beside)
                if model is not None:
                    firewalls[name] = t.cast(FirewallInput, model)
            elif name in fleet.joined_only:
                firewalls[name] = fleet.joined_only[name]
        except DiffservError as error:
            errors.append(HostError(name, str(error)))
    # A re-audit asks whether conflicts or errors remain: no advisories, unmodeled lines or unused definitions.
    return analyze(firewalls, routers, fleet.links, errors, details=False, joins=fleet.joins)


def _conflict_key(conflict: Conflict) -> tuple[t.Any, ...]:
    return (conflict.marker.host, conflict.marker.line, conflict.dscp,
            conflict.treatment.host, conflict.treatment.interface, conflict.treatment.action, conflict.family)


def dangling_references(config: IosConfig) -> list[str]:
    """References from applied places to objects that are missing (or, for lists, empty).

    IOS lets every packet through a missing access-group, routes normally through a missing
    route-map, but a route-map clause matching a missing list matches *every* packet: a
    command that leaves one of these behind while the reference is in use changes how
    traffic is treated, whatever the plan says before and after.
    """
    return [str(diagnostic) for diagnostic in link_diagnostics(config)
            if "is not defined" in diagnostic.reason or "has no entries" in diagnostic.reason]


def recheck(fleet: Fleet, changes: t.Sequence[HostChange], scope: str) -> Recheck:
    texts, ipv6 = split_texts(fleet, [(change, change.candidate) for change in changes
                                      if change.changed and (scope == "all" or change.managed)])
    findings = audit_texts(fleet, texts, ipv6)
    conflicts = findings.conflicts
    errors = findings.errors
    return Recheck(scope, not conflicts and not errors, conflicts, errors)


def stage_problems(fleet: Fleet, changes: t.Sequence[HostChange], original: t.Sequence[Conflict]) -> tuple[str, ...]:
    """Every intermediate stage: no conflict today's fleet does not have, no missing referenced object."""
    problems: list[str] = []
    allowed = {_conflict_key(c) for c in original}
    depth = max((len(change.stages) for change in changes), default=0)
    for stage in range(depth - 1):
        texts, ipv6 = split_texts(fleet, [(change, change.stages[min(stage, len(change.stages) - 1)].text)
                                          for change in changes if change.stages])
        findings = audit_texts(fleet, texts, ipv6)
        for conflict in findings.conflicts:
            if _conflict_key(conflict) not in allowed:
                problems.append("after stage %d: new conflict: DSCP %d %s on %s %s" % (
                    stage + 1, conflict.dscp, conflict.treatment.action, conflict.treatment.host,
                    conflict.treatment.interface))
        for error in findings.errors:
            problems.append("after stage %d: %s" % (stage + 1, error.reason))
    for change in changes:
        if not platforms.is_router(change.platform) or not change.changed:
            continue
        before = set(dangling_references(fleet.config(change.running, change.source)))
        for number, stage_obj in enumerate(change.stages, 1):
            for problem in dangling_references(fleet.config(stage_obj.text, change.source)):
                if problem not in before:
                    problems.append("%s after stage %d: %s" % (change.host, number, problem))
    return tuple(problems)
