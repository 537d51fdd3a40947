# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the network observed, joined to the findings on the controller: captures and counters.

The analyze action calls `attach_evidence` after the join, on the fleet it loaded, when the
inventory gives `diffserv_captures` (packet captures and where they were taken) or routers carry
`diffserv_show_outputs` (what `show access-lists`, `show route-map`, `show policy-map interface`,
`show ip interface` printed), or a firewall's dump holds counters (`iptables-save -c`, nft
`counter`).  The findings data gains:

* `observations`: one entry per conversation direction worth reporting (plugins/module_utils/
  observations.py): the flow, the DS byte seen, the frames, the symptom, the byte the audited
  firewall predicts, the rule that wrote it and what the linked router does with it;
* `contradictions`: captures that disagree with the audited configuration (the story's working
  capture, taken with the firewall rules off);
* `capture_diff`: the header fields that differ between a working and a failing capture of the
  same conversation at the same point (the story's DS field 0x00 vs 0x04);
* `capture_notes`: how the captures were read (frames that are not IP, files cut short);
* on each conflict, `observed`: the packets and bytes of the marking rule and of the router's
  deciding lines, and whether the rule ever fired;
* in `errors`, one entry per capture or show file that could not be read (stage `captures` or
  `show-outputs`): the others still report.

Counters read live (`diffserv_counters: true`, plugins/plugin_utils/live_counters.py) travel in the
host's collection as items with a `counters` entry; `firewall_texts` hands them over with the
texts (`CollectedTexts.live`), and they count where no saved show output is given, with the deltas
of a second reading (`diffserv_counter_interval`).

Everything quoted is redacted on the way out (the caller redacts the findings data once more).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import os
import time
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import quote
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Findings
from ansible_collections.diffserv.audit.plugins.plugin_utils.captures import capture_observations
from ansible_collections.diffserv.audit.plugins.plugin_utils.showparse import LiveReadings, conflicts_observed


def captures_given(task_vars: t.Mapping[str, t.Any], hosts: t.Sequence[str]) -> list[dict[str, t.Any]]:
    """`diffserv_captures` of the play (all-group or the running host's vars) and of every audited host, once each.

    A relative file is read from the folder of the inventory that gave it.
    """
    found: list[dict[str, t.Any]] = []
    seen: set[tuple[str, str]] = set()
    hostvars = task_vars.get("hostvars", {})
    sources = [task_vars] + [hostvars[host] for host in hosts if host in hostvars]
    for source in sources:
        for entry in source.get("diffserv_captures") or []:
            if not isinstance(entry, t.Mapping):
                entry = {"file": str(entry)}
            entry = dict(entry)
            base = source.get("inventory_dir")
            given = str(entry.get("file", ""))
            if given and base and not os.path.isabs(given):
                entry["file"] = os.path.join(str(base), given)
            key = (str(entry.get("file", "")), str(entry.get("point", "")))
            if key not in seen:
                seen.add(key)
                found.append(entry)
    return found


def show_outputs_given(task_vars: t.Mapping[str, t.Any], routers: t.Iterable[str]) -> dict[str, dict[str, str]]:
    """router host -> its `diffserv_show_outputs` (command -> file, relative to its inventory's folder)."""
    hostvars = task_vars.get("hostvars", {})
    found: dict[str, dict[str, str]] = {}
    for host in routers:
        given = (hostvars.get(host) or {}).get("diffserv_show_outputs")
        if not given:
            continue
        base = (hostvars.get(host) or {}).get("inventory_dir")
        found[host] = {str(command): str(path) if os.path.isabs(str(path)) or not base else os.path.join(str(base), str(path))
                       for command, path in dict(given).items()}
    return found


class CollectedTexts(dict):  # type: ignore[type-arg]
    """host -> the collected text the join read; `sources`: host -> source -> each collected text (the
    analysed model's file names its own); `live`: host -> the counters its live collection read."""

    live: dict[str, LiveReadings]
    sources: dict[str, dict[str, str]]


def live_readings(collection: t.Mapping[str, t.Any]) -> LiveReadings | None:
    """The counter readings of one host's collection (live_counters.file_items), None without any."""
    readings: dict[int, dict[str, tuple[str, str]]] = {}
    offsets: dict[int, float] = {}
    for item in collection.get("files") or []:
        counted = item.get("counters")
        if not isinstance(counted, t.Mapping):
            continue
        number = int(counted.get("reading") or 1)
        offsets[number] = float(counted.get("offset_seconds") or 0.0)
        if item.get("text") and not counted.get("refused"):
            readings.setdefault(number, {})[str(counted.get("command") or item.get("name"))] = (item["text"], item.get("source", ""))
        else:
            readings.setdefault(number, {})
    if not readings:
        return None
    numbers = sorted(readings)
    interval = round(offsets[numbers[-1]] - offsets[numbers[0]], 3) if len(numbers) > 1 else None
    return LiveReadings(tuple(readings[number] for number in numbers), interval)


def firewall_texts(results: t.Mapping[str, t.Any]) -> CollectedTexts:
    """host -> the collected text the join read (nft counters are read from the text), and in `live`
    what each host's live collection counted."""
    texts = CollectedTexts()
    texts.live, texts.sources = {}, {}
    for host, registered in results.items():
        collection = (registered or {}).get("diffserv_collection") or {}
        for item in collection.get("files") or []:
            if item.get("text") and not isinstance(item.get("counters"), t.Mapping):
                texts.setdefault(host, item["text"])
                texts.sources.setdefault(host, {})[str(item.get("source", ""))] = item["text"]
        found = live_readings(collection)
        if found is not None:
            texts.live[host] = found
    return texts


def _counts(text: str) -> bool:
    """Whether a firewall text carries rule counters: `iptables-save -c` prefixes each rule with
    `[packets:bytes]`; nft prints `counter packets N bytes M`."""
    return text.startswith("[") or "\n[" in text or "counter packets" in text


def attach_evidence(findings: dict[str, t.Any], typed: Findings, fleet: t.Any, captures: t.Sequence[t.Mapping[str, t.Any]],
                    show_outputs: t.Mapping[str, t.Mapping[str, str]], texts: t.Mapping[str, str]) -> dict[str, float]:
    """Add observations and counters to `findings` (the as_dict() data of `typed`), in place; the seconds spent."""
    spent: dict[str, float] = {}
    errors = findings.setdefault("errors", [])
    if captures:
        started = time.perf_counter()
        observed, problems = capture_observations(captures, fleet.firewalls, fleet.routers, fleet.links)
        data = observed.as_dict()
        findings["observations"] = data["observations"]
        findings["contradictions"] = data["contradictions"]
        findings["capture_diff"] = data["capture_diff"]
        findings["capture_notes"] = list(data["notes"]) + list(data["problems"])
        for problem in problems:
            errors.append({"host": None, "stage": "captures",
                           "reason": "%s (at %s): %s" % (problem["capture"], problem["point"], problem["reason"])})
        spent["captures_seconds"] = round(time.perf_counter() - started, 3)
    # Counters: a dump saved with -c, an nft counter, the routers' show outputs, or what the live
    # collection read (diffserv_counters). With none of them there is nothing to read: a 100,000-rule dump
    # is not walked rule by rule to find no counter.
    live = getattr(texts, "live", None)
    if not (typed.conflicts and (show_outputs or live or any(_counts(text) for text in texts.values()))):
        return spent
    started = time.perf_counter()
    counted, unreadable = conflicts_observed(typed.conflicts, fleet.firewalls, fleet.routers, show_outputs, texts,
                                             live=live)
    for conflict, observed_counters in zip(findings.get("conflicts", []), counted):
        data = observed_counters.as_dict()
        if data.get("firewall") or data.get("router") or data.get("notes"):
            conflict["observed"] = data
    for error in unreadable:
        errors.append({"host": None, "stage": "show-outputs", "reason": quote(str(error), 2000)})
    spent["counters_seconds"] = round(time.perf_counter() - started, 3)
    return spent
