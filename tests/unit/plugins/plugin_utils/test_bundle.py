# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bundles on disk: the founding incident's three folders, golden text, no secret anywhere.

Golden files live in fixtures/golden/<strategy>/; after a deliberate change of wording or
plan, regenerate them with `DIFFSERV_REGEN=1 .venv/bin/python -m pytest tests/unit/plugins/plugin_utils`
and review the diff.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.redact import secrets_in
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.plugin_utils import bundle

from ..module_utils.remediation.scenarios import FIXTURES

GOLDEN = pathlib.Path(__file__).resolve().parent / "fixtures" / "golden"
REGEN = os.environ.get("DIFFSERV_REGEN") == "1"
SECRETS = ("s3cr3tRW", "0822455D0A16", "094F471A1A0A", "0455160A0F0F2D4F", "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0",
           "$1$pdQG$o8nrSzsGXeaduXrjlvKc91")


def collections(partner_managed: bool = False) -> dict:
    """What the collect action returns for the founding incident (texts as read: redaction is ours to check)."""
    return {
        "partner-fw": {"host": "partner-fw", "platform": "iptables", "origin": "file", "managed": partner_managed,
                       "files": [{"name": "iptables-save", "source": "partner-fw.rules",
                                  "text": (FIXTURES / "partner-fw.rules").read_text(), "summary": {}}]},
        "border-rtr1": {"host": "border-rtr1", "platform": "ios", "origin": "file", "managed": True,
                        "files": [{"name": "running-config", "source": "border-router.cfg",
                                   "text": (FIXTURES / "border-rtr1.cfg").read_text(), "summary": {}}]},
    }


def findings_for(given: dict) -> dict:
    """The analyze action's findings for these collections, with the example inventory's link."""
    hosts = bundle.hosts_from_collections(given)
    seed = {"summary": {"firewalls": ["partner-fw"], "routers": ["border-rtr1"]},
            "links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0", "assumed": False}]}
    return core.audit_texts(core.build_fleet(seed, hosts, core.Options()), {})


@pytest.fixture(scope="module")
def founding(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    given = collections()
    summary = bundle.write_bundles(findings_for(given), given, str(folder), {})
    return folder / "changes", summary


def test_the_founding_incident_produces_a_bundle_per_strategy_with_all_five_files(founding):
    root, summary = founding
    assert sorted(p.name for p in root.iterdir()) == ["change_dscp", "exempt_flows", "remark_boundary",
                                                      "remove_policy", "summary.json"]
    for strategy in core.STRATEGIES:
        names = {p.name for p in (root / strategy).iterdir()}
        assert {"CHANGE.md", "border-rtr1.commands", "border-rtr1.rollback", "border-rtr1.diff",
                "border-rtr1.candidate"} <= names, strategy
        assert summary["strategies"][strategy]["clean"], strategy
        assert all((root / strategy / name).read_text().strip() for name in names)


def test_a_host_we_do_not_manage_gets_a_request_and_no_commands(founding):
    root, summary = founding
    names = {p.name for p in (root / "remark_boundary").iterdir()}
    assert {"partner-fw.request.md", "partner-fw.diff", "partner-fw.candidate"} <= names
    assert "partner-fw.commands" not in names and "partner-fw.rollback" not in names
    host = summary["strategies"]["remark_boundary"]["hosts"]["partner-fw"]
    assert (host["managed"], host["changed"], host["apply"]) == (False, True, False)
    request = (root / "remark_boundary" / "partner-fw.request.md").read_text()
    assert "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04" in request
    assert "iptables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0" in request
    assert "How to undo" in request


def test_the_summary_on_disk_is_the_one_returned(founding):
    root, summary = founding
    assert json.loads((root / "summary.json").read_text()) == summary
    plan = json.loads((root / "change_dscp" / "plan.json").read_text())
    assert plan["codepoints"] == [{"old": 1, "new": 3, "override": False, "refused": None}]
    assert plan["hosts"]["border-rtr1"]["commands"][0] == "ip access-list extended 106"


def test_no_secret_in_any_file(founding):
    root, _summary = founding
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert secrets_in(text) == [], path
            assert not [secret for secret in SECRETS if secret in text], path


def test_change_md_has_every_part_change_control_asks_for(founding):
    root, _summary = founding
    for strategy in core.STRATEGIES:
        text = (root / strategy / "CHANGE.md").read_text()
        for heading in ("## Summary", "## Evidence chain", "## The options compared", "## Implementation steps",
                        "## Pre-checks", "## Post-checks", "## Rollback"):
            assert heading in text, (strategy, heading)
        assert "partner-fw.rules` line 35" in text and "access-list 106 permit ip any any dscp 1" in text
        assert all("`%s`" % other in text for other in core.STRATEGIES)


def test_change_md_says_what_each_option_costs(founding):
    root, _summary = founding
    removal = (root / "remove_policy" / "CHANGE.md").read_text()
    assert "Code-Red" in removal and "Protection that goes away" in removal
    moving = (root / "change_dscp" / "CHANGE.md").read_text()
    assert "DSCP 1 (LE) -> DSCP 3" in moving and "residual risk" in moving and "show access-lists 106" in moving
    boundary = (root / "remark_boundary" / "CHANGE.md").read_text()
    assert "protection stays" in boundary and "set ip dscp default" in boundary


def test_check_mode_writes_nothing(tmp_path):
    given = collections()
    summary = bundle.write_bundles(findings_for(given), given, str(tmp_path), {}, write=False)
    assert list(tmp_path.iterdir()) == []
    assert set(summary["strategies"]) == set(core.STRATEGIES)


def test_an_unsafe_override_is_refused_in_its_bundle(tmp_path):
    given = collections()
    summary = bundle.write_bundles(findings_for(given), given, str(tmp_path), {"dscp": "cs1"})
    change_dscp = summary["strategies"]["change_dscp"]
    assert change_dscp["refused"].startswith("diffserv_dscp=8 refused") and not change_dscp["clean"]
    assert "This option is not planned" in (tmp_path / "changes" / "change_dscp" / "CHANGE.md").read_text()
    assert summary["strategies"]["remove_policy"]["clean"]


def test_a_managed_firewall_gets_commands_and_rollback(tmp_path):
    given = collections(partner_managed=True)
    summary = bundle.write_bundles(findings_for(given), given, str(tmp_path), {"strategies": ["remark_boundary"]})
    folder = tmp_path / "changes" / "remark_boundary"
    assert (folder / "partner-fw.commands").read_text() == \
        "iptables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0\n"
    assert (folder / "partner-fw.rollback").read_text() == \
        "iptables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0\n"
    assert list(summary["strategies"]) == ["remark_boundary"]


def test_collections_that_failed_or_hold_no_dump_are_left_out_and_an_ipv6_only_host_plans_from_its_ipv6_dump():
    given = collections()
    given["down-fw"] = None
    given["v6-only"] = {"platform": "iptables", "managed": True,
                        "files": [{"name": "iptables-save", "source": "v4", "text": ""},
                                  {"name": "ip6tables-save", "source": "v6", "text": "*mangle\nCOMMIT\n"}]}
    given["empty"] = {"platform": "iptables", "managed": True,
                      "files": [{"name": "iptables-save", "source": "v4", "text": ""}]}
    hosts = bundle.hosts_from_collections(given)
    assert sorted(hosts) == ["border-rtr1", "partner-fw", "v6-only"]
    assert (hosts["v6-only"].source, hosts["v6-only"].text) == ("v6", "*mangle\nCOMMIT\n")


def test_options_read_names_and_refuse_unknown_strategies():
    assert bundle.options_from({"dscp": "7", "strategies": None}).dscp == 7
    assert bundle.options_from(None) == core.Options()
    with pytest.raises(core.PlanError, match="unknown strategy"):
        bundle.options_from({"strategies": ["reboot"]})


def _golden_files(root: pathlib.Path):
    for strategy in core.STRATEGIES:
        for path in sorted((root / strategy).iterdir()):
            yield strategy, path


def test_rendered_text_matches_the_golden_files(founding):
    root, _summary = founding
    seen = []
    differ = []
    for strategy, path in _golden_files(root):
        golden = GOLDEN / strategy / path.name
        seen.append(golden)
        # On a mismatch the rendered text is kept beside the golden file (CHANGE.md -> CHANGE.actual.md) to diff.
        actual = golden.with_name("%s.actual%s" % (golden.stem, golden.suffix))
        if REGEN:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(path.read_text())
            actual.unlink(missing_ok=True)
            continue
        assert golden.exists(), "missing golden %s: regenerate with DIFFSERV_REGEN=1" % golden
        if path.read_text() == golden.read_text():
            actual.unlink(missing_ok=True)
        else:
            actual.write_text(path.read_text())
            differ.append("diff %s %s" % (golden, actual))
    assert not differ, "rendered bundles differ from the golden files (after a deliberate change, regenerate " \
                       "with DIFFSERV_REGEN=1):\n  %s" % "\n  ".join(differ)
    stale = [p for p in GOLDEN.rglob("*") if p.is_file() and p not in seen and ".actual" not in p.suffixes]
    assert not stale, "golden files no bundle writes any more: %s" % stale


def test_every_audited_host_appears_and_an_unmanaged_router_gets_a_request(tmp_path):
    given = collections()
    given["border-rtr1"]["managed"] = False
    summary = bundle.write_bundles(findings_for(given), given, str(tmp_path), {"strategies": ["remove_policy"]})
    hosts = summary["strategies"]["remove_policy"]["hosts"]
    assert set(hosts) == {"border-rtr1", "partner-fw"}
    assert not hosts["partner-fw"]["changed"] and not hosts["border-rtr1"]["apply"]
    folder = tmp_path / "changes" / "remove_policy"
    assert not (folder / "border-rtr1.commands").exists()
    request = (folder / "border-rtr1.request.md").read_text()
    assert "  77  access-list 106 permit ip any any dscp 1" in request
    assert " no ip policy route-map null_policy_route" in request and "How to undo" in request
    assert "| partner-fw | iptables | no | none | - |" in (folder / "CHANGE.md").read_text()


def test_a_text_keeps_collects_seal_only_while_it_is_the_text_collect_redacted():
    # collect hands each file's redacted text with its seal (`redacted`); the plan trusts the text as it is only
    # while the seal matches, and redacts anything else: an edited text, a text without a seal.
    from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact, seal
    given = collections()
    router = given["border-rtr1"]["files"][0]
    router["text"] = redact(router["text"] + "snmp-server community Leaky1 RO\n")
    router["redacted"] = seal(router["text"])
    assert bundle.hosts_from_collections(given)["border-rtr1"].text is router["text"]
    router["text"] += "snmp-server community Leaky2 RO\n"  # written after collect sealed it
    assert "Leaky2" not in bundle.hosts_from_collections(given)["border-rtr1"].text
    del router["redacted"]
    assert "Leaky2" not in bundle.hosts_from_collections(given)["border-rtr1"].text
