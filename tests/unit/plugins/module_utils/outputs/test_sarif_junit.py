"""outputs.sarif against the published SARIF 2.1.0 schema; outputs.junit parsed back."""

import copy
import hashlib
import json
import pathlib
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.outputs.junit import junit_xml
from ansible_collections.diffserv.audit.plugins.module_utils.outputs.sarif import artifact_uri, sarif_log

from .conftest import golden

ROOT = pathlib.Path(__file__).resolve().parents[5]
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "sarif" / "sarif-2.1.0-rtm.5.json"
SCHEMA_SHA256 = "2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8"


def sarif_problems(log):
    """The SARIF 2.1.0 schema's complaints about one log (empty: valid)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft4Validator(schema)
    return ["%s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:200]) for e in validator.iter_errors(log)]


def test_the_schema_fixture_is_the_published_one_unchanged():
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]


def test_the_schema_refuses_what_it_should():
    """The validator is live: a log without version, or a result with a bad level, fails."""
    log = sarif_log(golden("founding"), "1.0.0")
    broken = copy.deepcopy(log)
    del broken["version"]
    assert sarif_problems(broken)
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "critical"
    assert sarif_problems(broken)


def test_every_scenario_gives_a_valid_sarif_log(scenario):
    name, findings = scenario
    log = sarif_log(findings, "1.2.3")
    assert sarif_problems(log) == [], name
    json.dumps(log)  # serialisable as is


def test_one_result_per_conflict_at_the_firewall_line_with_the_router_lines_related():
    findings = golden("founding")
    run = sarif_log(findings, "1.0.0")["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = [r for r in run["results"] if r["ruleId"].startswith("dscp-conflict/")]
    assert len(results) == len(findings["conflicts"]) == 3
    for result, conflict in zip(results, findings["conflicts"]):
        assert result["ruleId"] == "dscp-conflict/null-routed" and rules[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] == "error"
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == artifact_uri(conflict["marker"]["file"])
        assert physical["region"]["startLine"] == conflict["marker"]["line"]
        assert physical["region"]["snippet"]["text"] == conflict["marker"]["rule"]
        related = [(r["physicalLocation"]["region"]["startLine"], r["physicalLocation"]["region"]["snippet"]["text"])
                   for r in result["relatedLocations"]]
        assert related == [(line["line"], line["text"]) for line in conflict["treatment"]["lines"]]
        (flow,) = result["codeFlows"]
        steps = flow["threadFlows"][0]["locations"]
        assert steps[0]["location"] == location and len(steps) == 1 + len(related)
        assert steps[-1]["location"]["physicalLocation"]["region"]["startLine"] == 91
    # Fingerprints follow the meaning: the three rules differ, a moved line keeps its fingerprint.
    prints = [r["partialFingerprints"]["diffservConflict/v1"] for r in results]
    assert len(set(prints)) == 3
    moved = copy.deepcopy(findings)
    moved["conflicts"][0]["marker"]["line"] += 10
    assert sarif_log(moved, "1.0.0")["runs"][0]["results"][0]["partialFingerprints"] == results[0]["partialFingerprints"]


@pytest.mark.parametrize("name, kind, level", [
    ("acl-in", "dscp-conflict/dropped", "error"),
    ("police-drop", "dscp-conflict/policed", "error"),
    ("remark", "dscp-conflict/re-marked", "warning"),
])
def test_the_level_follows_severity_and_the_rule_the_kind(name, kind, level):
    findings = golden(name)
    results = [r for r in sarif_log(findings, "1")["runs"][0]["results"] if r["ruleId"].startswith("dscp-conflict/")]
    assert {(r["ruleId"], r["level"]) for r in results} == {(kind, level)}


def test_advisories_are_notes_and_host_errors_notifications():
    findings = golden("founding")
    findings["errors"] = [{"host": "cut-fw", "reason": "cut-fw.rules:1: table mangle has no COMMIT", "stage": "parse"}]
    run = sarif_log(findings, "1")["runs"][0]
    notes = [r for r in run["results"] if r["ruleId"].startswith("dscp-advisory/")]
    assert len(notes) == len(findings["advisories"]) and {r["level"] for r in notes} == {"note"}
    assert {r["ruleId"] for r in notes} == {"dscp-advisory/" + a["kind"] for a in findings["advisories"]}
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"].startswith("cut-fw: cut-fw.rules:1:")
    assert sarif_problems(sarif_log(findings, "1")) == []


def test_a_live_source_is_a_relative_reference_and_a_path_a_file_uri():
    assert artifact_uri("/srv/a b/fw.rules") == "file:///srv/a%20b/fw.rules"
    assert artifact_uri("netops@fw:22 (iptables-save)") == "netops%40fw%3A22%20%28iptables-save%29"


def parse(findings):
    return ET.fromstring(junit_xml(findings))


def test_junit_one_case_per_link_and_host_a_failure_per_conflict(scenario):
    name, findings = scenario
    root = parse(findings)
    links, hosts = root.findall("testsuite")
    assert links.get("name") == "diffserv.audit.links" and hosts.get("name") == "diffserv.audit.hosts"
    failures = root.findall(".//failure")
    assert len(failures) == len(findings["conflicts"]) == int(root.get("failures")), name
    assert {case.get("name") for case in hosts.findall("testcase")} == \
        set(findings["summary"]["firewalls"]) | set(findings["summary"]["routers"])
    assert len(links.findall("testcase")) >= len({(c["link"]["from"], c["link"]["to"]) for c in findings["conflicts"]})
    assert int(root.get("tests")) == len(root.findall(".//testcase"))


def test_junit_failure_names_both_ends_and_an_error_per_host_not_collected():
    findings = golden("founding")
    findings["errors"] = [{"host": "rtr9", "reason": "rtr9: connection refused <&>", "stage": "collect", "unreachable": True}]
    root = parse(findings)
    failure = root.find(".//testcase[@name='partner-fw:eth0 -> border-rtr1:GigabitEthernet0/0']/failure")
    assert failure.get("type") == "critical" and "null-routed by border-rtr1 GigabitEthernet0/0" in failure.get("message")
    assert "partner-fw.rules:35 `-A POSTROUTING" in failure.text and "border-rtr1.cfg:91 `set interface Null0`" in failure.text
    error = root.find(".//testcase[@name='rtr9']/error")
    assert error.get("message") == "rtr9: connection refused <&>" and error.get("type") == "collect"
    assert root.get("errors") == "1"
    assert root.find(".//testcase[@name='partner-fw']").findall("*") == []
