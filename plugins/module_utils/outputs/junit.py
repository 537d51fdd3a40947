# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""findings.json data -> JUnit XML (junit.xml) for CI test reports.

One test case per audited link (a failure per conflict found on it) and per audited host (an
error when the host could not be collected, parsed or analysed). Serialised with the standard
library's ElementTree, which escapes every quoted line.

>>> xml = junit_xml({"summary": {"firewalls": ["fw"], "routers": []}, "links": [], "conflicts": [], "errors": []})
>>> b'<testcase classname="diffserv.audit.host" name="fw"' in xml
True
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import typing as t
import xml.etree.ElementTree as ET

from ansible_collections.diffserv.audit.plugins.module_utils.outputs.text import evidence_words, where

JSON = t.Dict[str, t.Any]


def _link_name(link: t.Mapping[str, t.Any]) -> str:
    return "%s -> %s%s" % (link.get("from"), link.get("to"), " (assumed)" if link.get("assumed") else "")


def _failure(conflict: t.Mapping[str, t.Any]) -> tuple[str, str, str]:
    marker, treatment = conflict["marker"], conflict["treatment"]
    message = "[%s] DSCP %s (%s) from %s %s is %s by %s %s (unmarked: %s)" % (
        conflict["severity"].upper(), conflict["dscp"], conflict["describe"], marker["host"], where(marker),
        treatment["action"], treatment["host"], treatment["interface"], treatment["unmarked_action"])
    body = [evidence_words({"file": marker["file"], "line": marker["line"], "text": marker["rule"]})]
    body.extend(evidence_words(line) for line in treatment.get("lines", []))
    return message, conflict["severity"], "\n".join(body)


def _suite(parent: ET.Element, name: str, cases: list[tuple[str, str, list[tuple[str, str, str, str]]]]) -> tuple[int, int]:
    """cases: (classname, name, [(element, message, type, text)]) -> the suite's failure and error counts."""
    suite = ET.SubElement(parent, "testsuite", name=name)
    failures = errors = 0
    for classname, case_name, outcomes in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=case_name)
        for element, message, kind, text in outcomes:
            node = ET.SubElement(case, element, message=message, type=kind)
            node.text = text
            failures += element == "failure"
            errors += element == "error"
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    return failures, errors


def junit_xml(findings: t.Mapping[str, t.Any]) -> bytes:
    """The JUnit XML document (UTF-8, with its declaration)."""
    links: dict[tuple[t.Any, ...], tuple[str, list[tuple[str, str, str, str]]]] = {}
    for link in findings.get("links", []):
        links.setdefault((link.get("from"), link.get("to")), (_link_name(link), []))
    for conflict in findings.get("conflicts", []):
        link = conflict.get("link") or {"from": conflict["marker"]["host"], "to": conflict["treatment"]["host"]}
        entry = links.setdefault((link.get("from"), link.get("to")), (_link_name(link), []))
        message, kind, text = _failure(conflict)
        entry[1].append(("failure", message, kind, text))
    errors_by_host: dict[str, list[tuple[str, str, str, str]]] = {}
    for error in findings.get("errors", []):
        outcome = ("error", error["reason"], str(error.get("stage") or "error"),
                   "\n".join([error["reason"], *(error.get("links") or [])]))
        if error.get("host"):
            errors_by_host.setdefault(error["host"], []).append(outcome)
        elif error.get("link"):
            entry = links.setdefault((error["link"].get("from"), error["link"].get("to")), (_link_name(error["link"]), []))
            entry[1].append(outcome)
    summary = findings.get("summary", {})
    hosts = sorted(set(summary.get("firewalls", [])) | set(summary.get("routers", [])) | set(errors_by_host))
    root = ET.Element("testsuites", name="diffserv.audit")
    link_counts = _suite(root, "diffserv.audit.links",
                         [("diffserv.audit.link", name, outcomes) for name, outcomes in links.values()])
    host_counts = _suite(root, "diffserv.audit.hosts",
                         [("diffserv.audit.host", host, errors_by_host.get(host, [])) for host in hosts])
    root.set("tests", str(len(links) + len(hosts)))
    root.set("failures", str(link_counts[0] + host_counts[0]))
    root.set("errors", str(link_counts[1] + host_counts[1]))
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
