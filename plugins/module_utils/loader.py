# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What was collected -> the fleet the analysis joins: one host's trouble stays that host's.

Every host is loaded on its own: its texts parsed, its marking map built.  Anything that goes
wrong there (a file the parser refuses, a modelling gap that raises, a plain bug) becomes one
entry under `errors` for that host, with a bounded, redacted message; the other hosts are loaded
and analysed as if it were not there.  A link that names a host which failed is noted under that
host's error, not counted as a second one.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import functools
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.analysis import (
    FirewallInput, JoinMemo, Link, RouterInput, parse_links, with_family,
)
from ansible_collections.diffserv.audit.plugins.module_utils.errors import error_entry, quote
from ansible_collections.diffserv.audit.plugins.module_utils.forking import computed_apart, worth_forking
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import Ruleset, parse_dumps


def joined_ruleset(text: str, source: str, family: int | None = None) -> Ruleset | None:
    """The dump of a firewall text that the analysis joins with routers: its IPv4 dump (the last one
    when a file holds several, as iptables-restore would leave them loaded), or None for an IPv6-only
    text.  One rule for the loader, the planner and the trace, so they never read different dumps."""
    joined = None
    for ruleset in parse_dumps(text, source, family=family):
        if ruleset.family == 4:
            joined = ruleset
    return joined


def readable_ruleset(text: str, source: str) -> Ruleset:
    """The dump a trace or marking map of a file reads: the joined IPv4 dump, or the first dump of an
    IPv6-only file (its packets then carry IPv6 addresses)."""
    return joined_ruleset(text, source) or parse_dumps(text, source)[0]


@dataclasses.dataclass
class Fleet:
    """The hosts that loaded, the links between them, and what went wrong, per host."""

    firewalls: dict[str, FirewallInput]
    routers: dict[str, RouterInput]
    links: list[Link] | None
    errors: list[dict[str, t.Any]]
    # How firewall texts were read (several dumps of one family, decoding): said, never dropped in silence.
    notes: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    # Each link's conflicts on these models, once the audit has joined them (analyze(..., joins=fleet.joins)):
    # the planner's re-audits join again only the links of the hosts a candidate changes.
    joins: JoinMemo = dataclasses.field(default_factory=JoinMemo)


def _egresses(links_given: t.Sequence[t.Mapping[str, t.Any]] | None, host: str) -> list[str]:
    found = []
    for link in links_given or []:
        source, _colon, interface = str(link.get("from", "")).partition(":")
        if source == host and interface:
            found.append(interface)
    return found


def load_host(host: str, collection: t.Mapping[str, t.Any], egresses: list[str], backend: str,
              tos_semantics: str) -> tuple[FirewallInput | None, RouterInput | None, list[dict[str, t.Any]]]:
    """One host's collection -> its model (firewall or router) through its platform's driver (a firewall's
    IPv4 and IPv6 dumps, in one file or as `iptables-save` and `ip6tables-save`, both joined), and the notes
    about how its texts were read."""
    driver = platforms.driver(collection["platform"])
    managed = bool(collection.get("managed", True))
    notes: list[dict[str, t.Any]] = []
    model: t.Any = None
    for item in collection["files"]:
        # How a saved file was decoded (a Latin-1 byte in a comment, say), as collect noted it.
        notes.extend(dict(note, host=host) for note in item.get("notes", []))
        loaded = driver.load(host, item, managed, egresses, backend, tos_semantics)
        notes.extend(loaded.notes)
        if isinstance(loaded.model, FirewallInput) and isinstance(model, FirewallInput):
            # `iptables-save` and `ip6tables-save` of one host: both families, each joined on its own.
            model = with_family(model, loaded.model)
        elif loaded.model is not None:
            model = loaded.model
    if driver.role == platforms.ROUTER:
        return None, model, notes
    return model, None, notes


# One host loaded: (host, its firewall model, its router model, notes, or the error entry that replaces them).
HostLoad = t.Tuple[str, t.Optional[FirewallInput], t.Optional[RouterInput], t.List[t.Dict[str, t.Any]],
                   t.Optional[t.Dict[str, t.Any]]]


def _load_one(host: str, registered: t.Mapping[str, t.Any] | None, links_given: t.Sequence[t.Mapping[str, t.Any]] | None,
              backend: str, tos_semantics: str) -> HostLoad:
    if not registered:
        return host, None, None, [], {"host": host, "stage": "collect", "reason": "not collected (no result for this host)"}
    collection = registered.get("diffserv_collection")
    if collection is None:
        return host, None, None, [], {
            "host": host, "stage": "collect",
            "reason": quote(str(registered.get("diffserv_error") or registered.get("msg") or "collection failed"), 2000),
            "unreachable": bool(registered.get("unreachable"))}
    try:
        firewall, router, host_notes = load_host(host, collection, _egresses(links_given, host), backend, tos_semantics)
    except Exception as error:  # pylint: disable=broad-except
        # Whatever one host's text does to the core, the others are still reported.
        return host, None, None, [], error_entry(host, error, "loading %s" % host)
    return host, firewall, router, host_notes, None


def _firewall_collection(registered: t.Mapping[str, t.Any] | None) -> bool:
    collection = registered.get("diffserv_collection") if registered else None
    try:
        return isinstance(collection, t.Mapping) and platforms.is_firewall(str(collection.get("platform")))
    except platforms.UnknownPlatform:
        return False


def _text_size(registered: t.Mapping[str, t.Any] | None) -> int:
    collection = registered.get("diffserv_collection") if registered else None
    files = collection.get("files", []) if isinstance(collection, t.Mapping) else []
    return sum(len(item.get("text") or "") for item in files if isinstance(item, t.Mapping))


def _load_hosts(results: t.Mapping[str, t.Mapping[str, t.Any] | None],
                links_given: t.Sequence[t.Mapping[str, t.Any]] | None, backend: str, tos_semantics: str) -> list[HostLoad]:
    """Each host loaded on its own, in the order of `results`.

    A fleet's firewalls are loaded on two cores: their marking maps are most of a fleet's load (four fifths
    of 1,000 devices').  A forked child loads every other firewall and hands the models back pickled (the
    maps without their build caches, markmap.MarkingMap.__getstate__); where the child fails, this process
    loads them too, so a failure costs time, never a host.
    """
    items = list(results.items())
    load = functools.partial(_load_one, links_given=links_given, backend=backend, tos_semantics=tos_semantics)
    theirs = [index for index, (_host, registered) in enumerate(items) if _firewall_collection(registered)][1::2]
    shared = bool(theirs) and worth_forking(len(items), 2, sum(_text_size(registered) for _host, registered in items))
    outcomes = computed_apart(range(len(items)), lambda index: load(*items[index]), [theirs] if shared else [],
                              lambda index, outcome: isinstance(outcome, tuple) and outcome[0] == items[index][0])
    return [outcomes[index] for index in range(len(items))]


def load_fleet(results: t.Mapping[str, t.Mapping[str, t.Any] | None], links_given: t.Sequence[t.Mapping[str, t.Any]] | None,
               backend: str = "auto", tos_semantics: str = "auto") -> Fleet:
    """host -> collection (or a failed result) -> the fleet; every failure stays its host's.

    A result is `{"diffserv_collection": ...}`, or a failure `{"diffserv_error"|"msg", "unreachable"}`,
    or None (never collected).
    """
    firewalls: dict[str, FirewallInput] = {}
    routers: dict[str, RouterInput] = {}
    errors: list[dict[str, t.Any]] = []
    notes: list[dict[str, t.Any]] = []
    for host, firewall, router, host_notes, error in _load_hosts(results, links_given, backend, tos_semantics):
        if error is not None:
            errors.append(error)
            continue
        notes.extend(host_notes)
        if firewall is not None:
            firewalls[host] = firewall
        if router is not None:
            routers[host] = router
    links = None
    # An empty list is links given, none of them (a --limit that leaves no link between the hosts it
    # selects): nothing is joined, and the run says so; only None (no diffserv_links) assumes every path.
    if links_given is not None:
        failed = {error["host"]: error for error in errors if error.get("host")}
        links, problems, unusable = parse_links(links_given, firewalls, routers, failed=set(failed))
        errors.extend({"host": None, "stage": "links", "reason": problem} for problem in problems)
        for host, note in unusable:
            failed[host].setdefault("links", []).append(note)
        if not links and firewalls and routers and not problems and not unusable:
            errors.append({"host": None, "stage": "links",
                           "reason": "diffserv_links names no link between the audited firewalls (%s) and routers "
                                     "(%s): nothing was joined, so no conflict could be found"
                                     % (", ".join(sorted(firewalls)[:10]), ", ".join(sorted(routers)[:10]))})
    return Fleet(firewalls, routers, links, errors, notes)
