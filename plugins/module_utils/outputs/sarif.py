# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""findings.json data -> a SARIF 2.1.0 log (findings.sarif) for code-scanning pipelines.

One rule per conflict kind (the fate the marked packets meet) and per advisory kind; one result
per conflict, located at the firewall file and line that writes the byte, with the router's
deciding lines as relatedLocations and a codeFlow thread firewall -> router, in the order the
packet meets them. Level: critical and high conflicts are errors, medium ones warnings,
advisories notes. Hosts that could not be audited are tool notifications of the invocation.
Everything quoted comes from findings that are already redacted and bounded.

>>> log = sarif_log({"conflicts": [], "advisories": [], "errors": []}, "1.0.0")
>>> (log["version"], log["runs"][0]["tool"]["driver"]["name"], log["runs"][0]["results"])
('2.1.0', 'diffserv.audit', [])
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import hashlib
import json
import pathlib
import typing as t
import urllib.parse

from ansible_collections.diffserv.audit.plugins.module_utils.outputs.baseline import conflict_key
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.text import conflict_kind, evidence_words, packet_words

JSON = t.Dict[str, t.Any]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning"}

# Conflict kinds: the fate marked packets meet where the same flow unmarked goes through.
CONFLICT_KINDS: dict[str, tuple[str, str]] = {
    "null-routed": ("A firewall's DS byte makes a router send the packets to Null0 (policy routing on the codepoint).",
                    "error"),
    "dropped": ("A firewall's DS byte makes a router drop the packets (an ACL or policy denies the codepoint).", "error"),
    "policy-routed": ("A firewall's DS byte makes a router policy-route the packets elsewhere than the unmarked flow.",
                      "warning"),
    "policed": ("A firewall's DS byte puts the packets under a router policer the unmarked flow escapes.", "error"),
    "re-marked": ("A firewall's DS byte makes a router re-mark the packets, unlike the unmarked flow.", "warning"),
}
ADVISORY_KINDS: dict[str, str] = {
    "drops-lower-effort": "DSCP 1 is Lower-Effort (RFC 8622): it should be deprioritised, not discarded.",
    "internal-marker-on-legacy-codepoint": "An internal marker uses a codepoint legacy RFC 1349 TOS values produce.",
    "legacy-tos-writes-ecn": "A legacy TOS value writes the ECN bits of the byte.",
}


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "other"


def conflict_rule_id(action: str) -> str:
    return "dscp-conflict/%s" % _slug(action)


def advisory_rule_id(kind: str) -> str:
    return "dscp-advisory/%s" % _slug(kind)


def artifact_uri(path: str) -> str:
    """A file as a SARIF artifact URI: file:///... for an absolute path, percent-encoded otherwise
    (a live source such as `netops@fw:22 (iptables-save)` has no file; it stays a relative reference)."""
    if path.startswith("/"):
        return pathlib.PurePosixPath(path).as_uri()
    return urllib.parse.quote(path, safe="/")


def _location(evidence: t.Mapping[str, t.Any], text_key: str = "text", message: str | None = None,
              ident: int | None = None, host: str | None = None) -> JSON:
    physical: JSON = {"artifactLocation": {"uri": artifact_uri(str(evidence["file"]))}}
    line = evidence.get("line")
    if isinstance(line, int) and line >= 1:
        physical["region"] = {"startLine": line, "snippet": {"text": str(evidence.get(text_key, ""))}}
    location: JSON = {"physicalLocation": physical}
    if ident is not None:
        location["id"] = ident
    if message:
        location["message"] = {"text": message}
    if host:
        location["logicalLocations"] = [{"name": host, "kind": "device"}]
    return location


def _rule(rule_id: str, name: str, text: str, level: str) -> JSON:
    return {"id": rule_id, "name": name, "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level}, "properties": {"tags": ["dscp", "diffserv"]}}


def _fingerprint(conflict: t.Mapping[str, t.Any]) -> str:
    """The conflict's meaning (baseline.conflict_key: no line numbers) hashed: stable across edits above it."""
    return hashlib.sha256(repr(conflict_key(conflict)).encode("utf-8")).hexdigest()


def _conflict_result(conflict: t.Mapping[str, t.Any], index: dict[str, int]) -> JSON:
    marker, treatment = conflict["marker"], conflict["treatment"]
    rule_id = conflict_rule_id(conflict_kind(conflict))
    firewall = _location({"file": marker["file"], "line": marker["line"], "text": marker["rule"]},
                         message="%s writes DS byte 0x%02x (%s)" % (marker["host"], conflict["ds_byte"], conflict["describe"]),
                         host=marker["host"])
    related = [_location(line, message="%s: %s" % (treatment["host"], line.get("what") or line.get("text", "")),
                         ident=number, host=treatment["host"])
               for number, line in enumerate(treatment.get("lines", []), 1)]
    thread = [{"location": firewall, "kinds": ["mark"]}]
    thread.extend({"location": {key: value for key, value in location.items() if key != "id"}, "kinds": ["decide"]}
                  for location in related)
    text = ("DSCP %s (%s) written by %s %s is %s by %s %s; the same flow unmarked is %s.%s" % (
        conflict["dscp"], conflict["describe"], marker["host"], evidence_words(
            {"file": marker["file"], "line": marker["line"], "text": marker["rule"]}),
        treatment["action"], treatment["host"], treatment["interface"], treatment["unmarked_action"],
        " The path was assumed (no diffserv_links)." if conflict.get("path_assumed") else ""))
    flow_text = "%s -> %s %s: %s" % (marker["host"], treatment["host"], treatment["interface"],
                                     packet_words(treatment.get("example_packet") or {}))
    return {
        "ruleId": rule_id, "ruleIndex": index[rule_id], "level": LEVELS.get(conflict["severity"], "warning"),
        "message": {"text": text},
        "locations": [firewall],
        "relatedLocations": related,
        "codeFlows": [{"message": {"text": flow_text}, "threadFlows": [{"locations": thread}]}],
        "partialFingerprints": {"diffservConflict/v1": _fingerprint(conflict)},
        "properties": {"severity": conflict["severity"], "dscp": conflict["dscp"], "dsByte": conflict["ds_byte"],
                       "firewall": marker["host"], "router": treatment["host"], "interface": treatment["interface"],
                       "kind": conflict_kind(conflict), "action": treatment["action"], "unmarkedAction": treatment["unmarked_action"],
                       "pathAssumed": bool(conflict.get("path_assumed"))},
    }


def _advisory_result(advisory: t.Mapping[str, t.Any], index: dict[str, int]) -> JSON:
    rule_id = advisory_rule_id(advisory["kind"])
    lines = list(advisory.get("lines", []))
    result: JSON = {"ruleId": rule_id, "ruleIndex": index[rule_id], "level": "note", "message": {"text": advisory["text"]},
                    "properties": {"host": advisory["host"], "interface": advisory.get("interface")}}
    if lines:
        result["locations"] = [_location(lines[0], host=advisory["host"])]
        result["relatedLocations"] = [_location(line, ident=number, host=advisory["host"])
                                      for number, line in enumerate(lines[1:], 1)]
    return result


def sarif_log(findings: t.Mapping[str, t.Any], version: str) -> JSON:
    """The SARIF 2.1.0 log of one audit."""
    rules: list[JSON] = []
    index: dict[str, int] = {}

    def add(rule_id: str, name: str, text: str, level: str) -> None:
        if rule_id not in index:
            index[rule_id] = len(rules)
            rules.append(_rule(rule_id, name, text, level))

    for kind, (text, level) in CONFLICT_KINDS.items():
        add(conflict_rule_id(kind), "DscpConflict" + kind.title().replace("-", ""), text, level)
    for kind, text in ADVISORY_KINDS.items():
        add(advisory_rule_id(kind), "DscpAdvisory" + kind.title().replace("-", ""), text, "note")
    for conflict in findings.get("conflicts", []):
        kind = conflict_kind(conflict)
        add(conflict_rule_id(kind), "DscpConflict" + _slug(kind).title().replace("-", ""),
            "A firewall's DS byte makes a router treat the packets as %s, unlike the unmarked flow." % kind, "warning")
    for advisory in findings.get("advisories", []):
        add(advisory_rule_id(advisory["kind"]), "DscpAdvisory" + _slug(advisory["kind"]).title().replace("-", ""),
            advisory["kind"], "note")
    results = [_conflict_result(c, index) for c in findings.get("conflicts", [])]
    results.extend(_advisory_result(a, index) for a in findings.get("advisories", []))
    notifications = [{"level": "error", "message": {"text": "%s: %s" % (error.get("host") or "-", error["reason"])},
                      "descriptor": {"id": "host-not-audited/%s" % _slug(str(error.get("stage") or "error"))}}
                     for error in findings.get("errors", [])]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "diffserv.audit", "version": version, "rules": rules}},
            "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def sarif_text(log: JSON, depth: int = 10) -> str:
    """The log as findings.sarif holds it: indented down to `depth` levels of nesting, each deeper value on one
    line of compact JSON.

    json's C encoder runs only without indent, and a fleet's log indented all the way took 0.9 s; compact
    all the way is one line as long as the log (every file of a report keeps its lines short: no line
    copies an input line whole).  Ten levels reach the snippets of a code flow's locations, so each line
    holds one small value, bounded like the quotes it holds; about half the time of a full indent.

    >>> print(sarif_text({"a": [1, {"b": {"c": [2, 3]}}], "d": "x"}, depth=2), end="")
    {
      "a": [
        1,
        {"b":{"c":[2,3]}}
      ],
      "d": "x"
    }
    """
    out: list[str] = []

    def write(value: t.Any, level: int) -> None:
        pad = "  " * level
        if level >= depth or not isinstance(value, (dict, list)) or not value:
            out.append(json.dumps(value, separators=(",", ":")))
            return
        if isinstance(value, dict):
            out.append("{\n")
            for index, (key, item) in enumerate(value.items()):
                out.append("%s  %s: " % (pad, json.dumps(key)))
                write(item, level + 1)
                out.append(",\n" if index < len(value) - 1 else "\n")
            out.append(pad + "}")
        else:
            out.append("[\n")
            for index, item in enumerate(value):
                out.append(pad + "  ")
                write(item, level + 1)
                out.append(",\n" if index < len(value) - 1 else "\n")
            out.append(pad + "]")

    write(log, 0)
    return "".join(out) + "\n"
