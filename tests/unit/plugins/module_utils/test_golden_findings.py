"""The findings of whole scenarios, kept as golden JSON: any change to what the join reports shows up as a diff.

Each scenario is audited the way the audit playbook does it (texts redacted as collect redacts them, loaded by
load_fleet, analysis.analyze), rendered with `as_dict()` and file paths made relative to the repository, and
compared with fixtures/golden_findings/<scenario>.json.  On a mismatch the rendering is written beside the
golden file as <scenario>.actual.json and the test names both files to diff.  After a deliberate change,
regenerate with

    DIFFSERV_REGEN=1 .venv/bin/python -m pytest tests/unit/plugins/module_utils/test_golden_findings.py

and review the diff of the golden files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys

import jsonschema
import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact, secrets_in

from .remediation.scenarios import FIXTURES

ROOT = pathlib.Path(__file__).resolve().parents[4]
GOLDEN = pathlib.Path(__file__).resolve().parent / "fixtures" / "golden_findings"
REGEN = os.environ.get("DIFFSERV_REGEN") == "1"
SCHEMA = json.loads((ROOT / "docs" / "findings.schema.json").read_text())


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Hosts (name -> (platform, fixture file)) and the diffserv_links given (None: paths assumed)."""

    name: str
    what: str
    hosts: tuple[tuple[str, str, str], ...]
    links: tuple[tuple[str, str], ...] | None


PARTNER = ("partner-fw", "iptables", "partner-fw.rules")
SCENARIOS = (
    Scenario("founding", "the founding incident: NBAR marks DSCP 1, policy routing sends DSCP 1 to Null0",
             (PARTNER, ("border-rtr1", "ios", "border-rtr1.cfg")),
             (("partner-fw:eth0", "border-rtr1:GigabitEthernet0/0"),)),
    Scenario("acl-in", "the uplink's input ACL denies DSCP 1",
             (PARTNER, ("aclin-rtr", "ios", "acl-in.cfg")),
             (("partner-fw:eth0", "aclin-rtr:GigabitEthernet0/0"),)),
    Scenario("police-drop", "an input policer whose exceed action drops DSCP 1",
             (PARTNER, ("police-rtr", "ios", "police-drop.cfg")),
             (("partner-fw:eth0", "police-rtr:GigabitEthernet0/0"),)),
    Scenario("remark", "DSCP 1 re-marked to CS1 on the way in (medium)",
             (PARTNER, ("remark-rtr", "ios", "remark.cfg")),
             (("partner-fw:eth0", "remark-rtr:GigabitEthernet0/0"),)),
    Scenario("acl-out", "Code-Red method A: marked on the way in, dropped by an output ACL",
             (PARTNER, ("codered-a", "ios", "codered-acl-out.cfg")),
             (("partner-fw:eth0", "codered-a:Serial0/0"),)),
    Scenario("assumed-paths", "no diffserv_links: 2 firewalls x every forwarding interface of 1 router",
             (PARTNER, ("second-fw", "iptables", "partner-fw.rules"), ("border-rtr1", "ios", "border-rtr1.cfg")),
             None),
)


def audit(scenario: Scenario) -> dict:
    """findings.json's data for a scenario, its sources named as saved files are (absolute paths)."""
    results = {}
    for host, platform, fixture in scenario.hosts:
        item = {"name": "running-config" if platform == "ios" else "iptables-save",
                "source": str(FIXTURES / fixture), "text": redact((FIXTURES / fixture).read_text())}
        results[host] = {"diffserv_collection": {"platform": platform, "managed": True, "files": [item]}}
    links = None if scenario.links is None else [{"from": source, "to": target} for source, target in scenario.links]
    fleet = loader.load_fleet(results, links)
    return analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes).as_dict()


def render(findings: dict) -> str:
    """Stable text: the repository's own path taken out of every file name and message."""
    text = json.dumps(findings, indent=2, ensure_ascii=False) + "\n"
    return text.replace(str(ROOT) + os.sep, "")


def check_golden(name: str, rendered: str) -> None:
    golden = GOLDEN / ("%s.json" % name)
    actual = GOLDEN / ("%s.actual.json" % name)
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered)
        actual.unlink(missing_ok=True)
        return
    assert golden.exists(), "missing golden %s: regenerate with DIFFSERV_REGEN=1" % golden
    if rendered == golden.read_text():
        actual.unlink(missing_ok=True)
        return
    actual.write_text(rendered)
    pytest.fail("findings of scenario %r differ from the golden file: diff %s %s (after a deliberate change, "
                "regenerate with DIFFSERV_REGEN=1)" % (name, golden.relative_to(ROOT), actual.relative_to(ROOT)),
                pytrace=False)


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda scenario: scenario.name)
def rendered(request):
    scenario = request.param
    return scenario, render(audit(scenario))


def test_findings_match_the_golden_file(rendered):
    scenario, text = rendered
    check_golden(scenario.name, text)


def test_golden_findings_are_relative_valid_and_hold_no_secret(rendered):
    _scenario, text = rendered
    data = json.loads(text)
    assert str(ROOT) not in text
    assert [error.message for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)] == []
    assert secrets_in(text) == []
    assert data["errors"] == []


def test_every_scenario_finds_what_it_is_named_for(rendered):
    # The golden files are regenerated wholesale; these few facts keep a regeneration from blessing nonsense.
    scenario, text = rendered
    data = json.loads(text)
    conflicts = data["conflicts"]
    assert conflicts, scenario.name
    first = conflicts[0]
    assert (first["dscp"], first["marker"]["host"], first["marker"]["line"]) == (1, "partner-fw", 35)
    assert first["marker"]["file"] == "tests/unit/plugins/module_utils/remediation/fixtures/partner-fw.rules"
    expected = {"founding": ("null-routed", "critical"), "acl-in": ("dropped", "critical"),
                "police-drop": ("forwarded", "high"), "remark": ("forwarded", "medium"),
                "acl-out": ("dropped", "critical"), "assumed-paths": ("null-routed", "critical")}[scenario.name]
    assert (first["treatment"]["action"], first["severity"]) == expected
    assert data["summary"]["paths_assumed"] is (scenario.links is None)
    if scenario.links is None:
        assert {c["marker"]["host"] for c in conflicts} == {"partner-fw", "second-fw"}
        assert all(c["path_assumed"] for c in conflicts)
        assert len(data["links"]) == 2 * 2  # GigabitEthernet0/0 and 0/1; Loopback0, Serial0/0/0 (shut), Null0 left out
    else:
        assert [(link["from"], link["to"]) for link in data["links"]] == list(scenario.links)


def test_no_golden_file_without_its_scenario():
    names = {"%s.json" % scenario.name for scenario in SCENARIOS}
    stale = [path.name for path in GOLDEN.glob("*.json")
             if not path.name.endswith(".actual.json") and path.name not in names]
    assert not stale, "golden files no scenario renders any more: %s" % stale


def test_a_mismatch_writes_the_actual_file_beside_the_golden_one_and_names_both(tmp_path, monkeypatch):
    this = sys.modules[__name__]
    monkeypatch.setattr(this, "GOLDEN", tmp_path)
    monkeypatch.setattr(this, "ROOT", tmp_path.parent)
    monkeypatch.setattr(this, "REGEN", False)
    (tmp_path / "demo.json").write_text('{"conflicts": []}\n')
    with pytest.raises(pytest.fail.Exception) as failed:
        check_golden("demo", '{"conflicts": [1]}\n')
    assert (tmp_path / "demo.actual.json").read_text() == '{"conflicts": [1]}\n'
    message = str(failed.value)
    assert "diff %s/demo.json %s/demo.actual.json" % (tmp_path.name, tmp_path.name) in message
    # Matching again removes the stale .actual file.
    check_golden("demo", '{"conflicts": []}\n')
    assert not (tmp_path / "demo.actual.json").exists()
