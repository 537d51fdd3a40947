# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An earlier findings.json against this one: which conflicts are new, resolved or unchanged.

Conflicts are matched by meaning, not by line number: the marking rule's host and text (spaces
folded), the router, the interface, the DSCP and the fate. A rule that moved because lines were
added above it is the same conflict; the same rule text twice on one firewall counts twice.

>>> old = {"conflicts": [_c("fw", 35, "-A X -j TOS --set-tos 0x04")]}
>>> new = {"conflicts": [_c("fw", 40, "-A X  -j TOS --set-tos 0x04"), _c("fw", 41, "-A Y -j DSCP --set-dscp 1")]}
>>> diff = compare(old, new, "old/findings.json")
>>> (diff["counts"], [b["line"] for b in diff["new"]], [b["line"] for b in diff["unchanged"]])
({'new': 1, 'resolved': 0, 'unchanged': 1}, [41], [40])
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import collections
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError

JSON = t.Dict[str, t.Any]


class BaselineError(DiffservError):
    """The baseline given is not an earlier findings.json."""


def conflict_key(conflict: t.Mapping[str, t.Any]) -> tuple[t.Any, ...]:
    """What a conflict means, without where its lines sit."""
    marker, treatment = conflict["marker"], conflict["treatment"]
    return (marker["host"], " ".join(str(marker["rule"]).split()), treatment["host"], treatment["interface"],
            int(conflict["dscp"]), treatment["action"])


def _entry(conflict: t.Mapping[str, t.Any]) -> JSON:
    marker, treatment = conflict["marker"], conflict["treatment"]
    return {"firewall": marker["host"], "rule": marker["rule"], "file": marker["file"], "line": marker["line"],
            "router": treatment["host"], "interface": treatment["interface"], "dscp": conflict["dscp"],
            "action": treatment["action"], "severity": conflict["severity"]}


def _conflicts(findings: t.Any, where: str) -> list[t.Mapping[str, t.Any]]:
    if not isinstance(findings, dict) or not isinstance(findings.get("conflicts"), list):
        raise BaselineError("%s: not a findings.json of diffserv.audit (no 'conflicts' list)" % where)
    for number, conflict in enumerate(findings["conflicts"]):
        try:
            conflict_key(conflict)
        except (KeyError, TypeError, ValueError) as error:
            raise BaselineError("%s: conflicts[%d] is not a conflict of findings.json (%s missing or malformed)"
                                % (where, number, error)) from None
    return list(findings["conflicts"])


def compare(earlier: t.Any, current: t.Mapping[str, t.Any], earlier_file: str) -> JSON:
    """findings.baseline: the file compared with, the counts, and the new/resolved/unchanged conflicts
    (new and unchanged as they are now, resolved as the baseline had them)."""
    before = _conflicts(earlier, earlier_file)
    now = _conflicts(current, "findings")
    left = collections.Counter(conflict_key(c) for c in before)
    new, unchanged = [], []
    for conflict in now:
        key = conflict_key(conflict)
        if left[key] > 0:
            left[key] -= 1
            unchanged.append(_entry(conflict))
        else:
            new.append(_entry(conflict))
    resolved = []
    for conflict in before:
        key = conflict_key(conflict)
        if left[key] > 0:
            left[key] -= 1
            resolved.append(_entry(conflict))
    return {"file": earlier_file, "counts": {"new": len(new), "resolved": len(resolved), "unchanged": len(unchanged)},
            "new": new, "resolved": resolved, "unchanged": unchanged}


def _c(host: str, line: int, rule: str) -> JSON:
    """A minimal conflict, for the examples."""
    return {"dscp": 1, "severity": "critical",
            "marker": {"host": host, "file": "fw.rules", "line": line, "rule": rule},
            "treatment": {"host": "rtr", "interface": "Gi0/0", "action": "null-routed"}}
