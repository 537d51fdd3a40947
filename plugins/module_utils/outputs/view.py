# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""findings.json data -> the finished data report.md, report.html and the console summary print.

Conflicts that share the router treatment (router, interface, direction, DSCP, fate, the same
deciding lines) form one group: the router's evidence is shown once, with every marking rule
that sends packets into it listed. Each conflict keeps its own path picture.

Observations and counters (`findings.observations`, a conflict's `observed`) come from the
evidence work; whatever shape they take, `observation_rows` turns them into label/value rows, and
an absent or empty value gives no rows, so the reports' sections stay empty-safe.

>>> view = report_view({"summary": {"conflicts": 0, "critical": 0, "high": 0, "medium": 0,
...     "firewalls": [], "routers": [], "errors": 0, "paths_assumed": False, "not_audited": 0},
...     "conflicts": [], "advisories": [], "errors": [], "unmodeled": [], "unused": [], "links": [],
...     "not_audited": []})
>>> (view["groups"], view["observations"], view["summary"]["headline"])
([], [], '0 conflicts (0 critical, 0 high, 0 medium)')
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import quote
from ansible_collections.diffserv.audit.plugins.module_utils.outputs import picture
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.text import (
    conflict_kind, evidence_words, flow_terms, packet_words, plural, tos_meaning, values, where,
)

JSON = t.Dict[str, t.Any]
# file -> its lines (redacted), to quote the earlier writers a marker overwrote (findings name them by number).
Sources = t.Mapping[str, t.Sequence[str]]

SEVERITY_ORDER = ("critical", "high", "medium")


def treatment_key(conflict: t.Mapping[str, t.Any]) -> tuple[t.Any, ...]:
    """What makes two conflicts one router treatment: the same router lines decide the same fate."""
    treatment = conflict["treatment"]
    return (treatment["host"], treatment["file"], treatment["interface"], treatment["direction"], conflict["dscp"],
            treatment["action"], treatment["unmarked_action"],
            tuple((line["file"], line["line"]) for line in treatment.get("lines", [])))


def _lines_view(lines: t.Sequence[t.Mapping[str, t.Any]], file: str | None = None) -> list[JSON]:
    """Source lines as reports show them; `label` is the line number under a heading naming `file`,
    file:line for a line of another file."""
    return [{"file": line["file"], "line": line["line"], "text": line.get("text", ""), "what": line.get("what", ""),
             "where": where(line), "words": evidence_words(line),
             "label": str(line["line"]) if line["file"] == file else where(line)} for line in lines]


def _writers(marker: t.Mapping[str, t.Any], sources: Sources | None) -> list[JSON]:
    """The earlier writes the marking rule overwrote, each with its file and (where known) its text."""
    earlier = [number for number in marker.get("writers", []) if number != marker["line"]]
    found = (sources or {}).get(marker["file"])
    rows = []
    for number in earlier:
        text = quote(found[number - 1]) if found is not None and 0 < number <= len(found) else "(text not at hand)"
        evidence = {"file": marker["file"], "line": number, "text": text}
        rows.append({"where": where(evidence), "text": text, "words": evidence_words(evidence)})
    return rows


def observation_rows(value: t.Any) -> list[JSON]:
    """Observations or counters of any shape as rows {label, value}; nothing for None or empty.

    A mapping gives a row a key (a row an item when the key holds a list); an item that carries its
    own sentence (`text`) is shown by it, anything else as `key: value` words.

    >>> observation_rows({"packets": 12, "interface": "Gi0/0"})
    [{'label': 'interface', 'value': 'Gi0/0'}, {'label': 'packets', 'value': '12'}]
    >>> observation_rows({"observations": [{"text": "SYN/ACK left with 0x04", "frames": [3]}], "problems": []})
    [{'label': 'observations', 'value': 'SYN/ACK left with 0x04'}]
    >>> observation_rows([{"what": "counter", "value": 3}])
    [{'label': '1', 'value': 'value: 3; what: counter'}]
    """
    if not value:
        return []
    rows: list[JSON] = []
    if isinstance(value, dict):
        for key in sorted(value):
            if isinstance(value[key], (list, tuple)):
                rows.extend({"label": str(key), "value": _said(item)} for item in value[key])
            elif value[key] not in (None, "", {}):
                rows.append({"label": str(key), "value": _said(value[key])})
        return rows
    if isinstance(value, (list, tuple)):
        return [{"label": str(index), "value": _said(item)} for index, item in enumerate(value, 1)]
    return [{"label": "", "value": _said(value)}]


def network_rows(findings: t.Mapping[str, t.Any]) -> list[JSON]:
    """What the captures showed, each labelled by its file and point; then the contradictions with the
    audited configuration, the working/failing differences and how the captures were read.

    >>> network_rows({"observations": [{"capture": "fail.pcap", "point": "fw:eth0", "text": "SYN/ACKs carry 0x04"}],
    ...               "capture_diff": [{"text": "the DS field differs: 0x00 vs 0x04"}]})
    [{'label': 'fail.pcap at fw:eth0', 'value': 'SYN/ACKs carry 0x04'}, {'label': 'working vs failing', 'value': 'the DS field differs: 0x00 vs 0x04'}]
    """
    rows: list[JSON] = [{"label": "%s at %s" % (item.get("capture", ""), item.get("point", "")), "value": _said(item)}
                        for item in findings.get("observations") or []]
    for key, label in (("contradictions", "contradicts the audit"), ("capture_diff", "working vs failing"),
                       ("capture_notes", "note")):
        rows.extend({"label": label, "value": _said(item)} for item in findings.get(key) or [])
    return rows


def _said(item: t.Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"]:
        return str(item["text"])
    return _words(item)


def _words(value: t.Any) -> str:
    if isinstance(value, dict):
        return "; ".join("%s: %s" % (key, _words(value[key])) for key in sorted(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(item) for item in value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _conflict_view(index: int, conflict: t.Mapping[str, t.Any], sources: Sources | None) -> JSON:
    marker, treatment = conflict["marker"], conflict["treatment"]
    link = conflict.get("link") or {}
    link_words = "%s -> %s (%s)" % (link.get("from", "?"), link.get("to", "?"),
                                    "assumed: no diffserv_links" if conflict.get("path_assumed") else "given")
    byte = int(conflict["ds_byte"])
    marker_where = where(marker)
    deciding = _lines_view(treatment.get("lines", []), treatment["file"])
    steps = [
        ("firewall", "Firewall %s writes the byte: %s" % (marker["host"], marker_where),
         ["table %s, chain %s, %s backend, %s TOS semantics" % (
             marker["table"], marker["chain"], marker["backend"], marker["tos_semantics"]),
          marker["rule"]]),
        ("byte", "DS byte 0x%02x on the wire: DSCP %s" % (byte, conflict["dscp"]),
         [conflict["describe"], "RFC 1349 reading: %s" % tos_meaning(byte)]),
        ("link", "Link %s" % link_words, ["packets leaving %s enter %s" % (link.get("from", "?"), link.get("to", "?"))]),
        ("router", "Router %s, entering %s%s" % (treatment["host"], treatment["interface"],
                                                 " (leaving by %s)" % values(treatment["out_interfaces"])
                                                 if treatment.get("out_interfaces") else ""),
         ["%s: the deciding lines" % treatment["file"]]
         + ["%5s  %s%s" % (line["label"], line["text"], "  [%s]" % line["what"] if line["what"] else "")
            for line in deciding]),
    ]
    drawing = picture.path_picture(
        steps, ["marks", "crosses", "enters", "DSCP %s" % conflict["dscp"], "the same flow unmarked"],
        ("Marked (DSCP %s): %s" % (conflict["dscp"], treatment["action"].upper()),
         [treatment.get("summary") or treatment["action"]]),
        ("Unmarked (DS byte 0x00): %s" % treatment["unmarked_action"],
         ["the same flow without the firewall's mark is %s" % treatment["unmarked_action"]]))
    description = "%s %s writes DS byte 0x%02x (DSCP %s) -> link %s -> %s %s decides by %s -> %s; unmarked: %s" % (
        marker["host"], marker_where, byte, conflict["dscp"], link_words, treatment["host"], treatment["interface"],
        "%s of %s" % (plural(len(deciding), "line"), treatment["file"]), treatment["action"], treatment["unmarked_action"])
    return {
        "index": index, "anchor": "conflict-%d" % index, "severity": conflict["severity"], "dscp": conflict["dscp"],
        "byte": "0x%02x" % byte, "describe": conflict["describe"], "tos_meaning": tos_meaning(byte),
        "marker": dict(marker, where=marker_where, earlier=_writers(marker, sources),
                       words=evidence_words({"file": marker["file"], "line": marker["line"], "text": marker["rule"]})),
        "flows": [{"words": flow.get("words", ""), "terms": flow_terms(flow), "path": flow.get("path", "")}
                  for flow in conflict.get("flows", [])],
        "router": treatment["host"], "interface": treatment["interface"], "action": treatment["action"],
        "unmarked_action": treatment["unmarked_action"], "link": link_words, "path_assumed": bool(conflict.get("path_assumed")),
        "picture": dict(drawing, title="Conflict %d: %s" % (index, description), description=description),
        "observed": observation_rows(conflict.get("observed")),
    }


def _group_view(index: int, conflicts: list[JSON], first: t.Mapping[str, t.Any]) -> JSON:
    treatment = first["treatment"]
    severity = min((c["severity"] for c in conflicts), key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 9)
    may_match = [{"words": "%s %s (%s)" % (where(cond) if cond.get("file") else "(no line)", cond.get("text", ""),
                                           cond.get("reason", ""))}
                 for cond in treatment.get("may_match", [])]
    trace = "%s by a router trace of %s." % ("Confirmed" if treatment.get("confirmed_by_trace") else "Not confirmed",
                                             packet_words(treatment.get("example_packet") or {}))
    return {
        "index": index, "anchor": "group-%d" % index, "severity": severity, "dscp": first["dscp"],
        "describe": first["describe"], "router": treatment["host"], "file": treatment["file"],
        "interface": treatment["interface"], "direction": treatment["direction"],
        "out_interfaces": values(treatment["out_interfaces"]) if treatment.get("out_interfaces") else "",
        "action": treatment["action"], "summary": treatment.get("summary", ""),
        "unmarked_action": treatment["unmarked_action"], "lines": _lines_view(treatment.get("lines", []), treatment["file"]),
        "may_match": may_match, "remarked_unknown": treatment.get("tos_out") is None,
        "trace": trace, "conflicts": conflicts,
        "kind": conflict_kind(first),
        "heading": "DSCP %s %s on %s %s (%s): %s" % (
            first["dscp"], conflict_kind(first), treatment["host"], treatment["interface"], severity,
            plural(len(conflicts), "marking rule")),
    }


def _summary(findings: t.Mapping[str, t.Any]) -> JSON:
    summary = dict(findings["summary"])
    summary["headline"] = "%s (%d critical, %d high, %d medium)" % (
        plural(summary["conflicts"], "conflict"), summary["critical"], summary["high"], summary["medium"])
    summary["counts"] = "%s, %s, %s, %s" % (
        plural(len(findings.get("advisories", [])), "advisory", "advisories"),
        plural(len(findings.get("errors", [])), "host error"),
        plural(len(findings.get("unmodeled", [])), "unmodeled line"),
        plural(len(findings.get("unused", [])), "unused definition"))
    return summary


def report_view(findings: t.Mapping[str, t.Any], sources: Sources | None = None) -> JSON:
    """Everything the reports print, shaped once: summary, grouped conflicts with pictures, the rest."""
    conflicts = [_conflict_view(i, c, sources) for i, c in enumerate(findings.get("conflicts", []), 1)]
    groups: dict[tuple[t.Any, ...], tuple[list[JSON], t.Mapping[str, t.Any]]] = {}
    for view, raw in zip(conflicts, findings.get("conflicts", [])):
        groups.setdefault(treatment_key(raw), ([], raw))[0].append(view)
    grouped = [_group_view(i, members, raw) for i, (members, raw) in enumerate(groups.values(), 1)]
    for group in grouped:
        for view in group["conflicts"]:
            view["group"] = group["index"]
    return {
        "summary": _summary(findings),
        "conflicts": conflicts,
        "groups": grouped,
        "advisories": [dict(a, lines=_lines_view(a.get("lines", []))) for a in findings.get("advisories", [])],
        "unmodeled": [dict(u, where=where(u)) for u in findings.get("unmodeled", [])],
        "unused": [dict(u, where=where(u["source"])) for u in findings.get("unused", [])],
        "errors": [dict(e, host=e.get("host") or "-", links=list(e.get("links") or [])) for e in findings.get("errors", [])],
        "not_audited": list(findings.get("not_audited", [])),
        "links": [dict(link) for link in findings.get("links", [])],
        "observations": network_rows(findings),
    }


def run_view(report_dir: str, written: t.Sequence[str], check_mode: bool = False,
             bundle: t.Mapping[str, t.Any] | None = None, bundle_error: str | None = None,
             baseline: t.Mapping[str, t.Any] | None = None, bundles_skipped: bool = False,
             notes: t.Sequence[str] = ()) -> JSON:
    """What the reports say about the run itself: where they are, check mode, bundles, the baseline."""
    bundles = []
    for name, strategy in sorted(((bundle or {}).get("strategies") or {}).items()):
        state = "clean on re-audit" if strategy.get("clean") else "NOT clean: %s" % (strategy.get("refused") or "see CHANGE.md")
        if bundles_skipped:
            state += "; planned, not written (check mode)"
        path = "" if bundles_skipped else "%s/changes/%s/CHANGE.md" % (report_dir, name)
        bundles.append({"name": name, "state": state, "path": path})
    return {"report_dir": report_dir, "written": list(written), "check_mode": check_mode, "bundles": bundles,
            "bundle_error": bundle_error or "", "baseline": dict(baseline) if baseline else None,
            "bundles_skipped": bundles_skipped, "notes": list(notes)}
