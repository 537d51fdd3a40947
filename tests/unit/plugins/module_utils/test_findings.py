"""Typed findings: the value objects, their dict form, and the published schema of findings.json."""

import copy
import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Conflict, Findings
from tests.conftest import findings_problems

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventories" / "example" / "files"


def founding_findings():
    results = {"partner-fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "partner-fw.rules", "text": (EXAMPLE / "partner-fw.rules").read_text()}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg", "text": (EXAMPLE / "border-router.cfg").read_text()}]}}}
    fleet = loader.load_fleet(results, [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    return analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)


def test_the_founding_findings_are_typed_and_read_by_attribute():
    findings = founding_findings()
    first = findings.conflicts[0]
    assert isinstance(first, Conflict)
    assert (first.dscp, first.marker.line, first.treatment.action) == (1, 35, "null-routed")
    assert {line.text.strip() for line in first.treatment.lines} >= {"set interface Null0"}
    with pytest.raises(AttributeError):
        first.dscp = 3  # frozen


def test_dict_form_round_trips_and_follows_the_schema(tmp_path):
    data = founding_findings().with_not_audited({"sw1": "no platform known"}).as_dict()
    assert Findings.from_dict(data).as_dict() == data
    path = tmp_path / "findings.json"
    import json
    path.write_text(json.dumps(data))
    assert findings_problems(path) == []


@pytest.mark.parametrize("break_it, complaint", [
    (lambda d: d["conflicts"][0].update(severity="catastrophic"), "conflicts/0/severity"),
    (lambda d: d["conflicts"][0].pop("marker"), "'marker' is a required property"),
    (lambda d: d["conflicts"][0]["treatment"].update(tos_out=300), "conflicts/0/treatment/tos_out"),
    (lambda d: d["summary"].pop("not_audited"), "'not_audited' is a required property"),
    (lambda d: d["errors"].append({"host": "x"}), "'reason' is a required property"),
])
def test_the_schema_refuses_what_pipelines_could_not_read(tmp_path, break_it, complaint):
    import json
    data = copy.deepcopy(founding_findings().as_dict())
    break_it(data)
    path = tmp_path / "broken" / "findings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    problems = findings_problems(path)
    path.unlink()  # the suite-wide check must not see this deliberately broken file
    assert any(complaint in problem for problem in problems), problems
