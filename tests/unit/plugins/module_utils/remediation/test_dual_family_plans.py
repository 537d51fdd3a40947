# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remark_boundary on a firewall collected with both dumps (`iptables-save` and `ip6tables-save` items).

Each family has its own marking map and its own conflicts; the boundary clears each dump whose family has
conflicts on the host: an IPv6 conflict gets an ip6tables rule planned from the ip6tables-save text, an IPv4
one an iptables rule from the iptables-save text, both when both, and the plan is clean only when the re-audit
of both families (each candidate read in its own family) finds nothing left.  The routers are the IPv6
fixtures: `ipv6 policy route-map` null-routing DSCP 1 (IPv6 only), an input policy dropping `match ip dscp 1`
(IPv4 only) and one dropping `match dscp 1` (both families).
"""

from __future__ import annotations

import json
import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import reaudit
from ansible_collections.diffserv.audit.plugins.plugin_utils import bundle, hier

from .scenarios import read

INPUTS = pathlib.Path(__file__).parents[4] / "fixtures" / "inputs" / "ipv6"
V4 = read("partner-fw.rules")
V6 = (INPUTS / "mail6-fw.rules").read_text()
ROUTERS = {
    6: (INPUTS / "border6-pbr.cfg").read_text(),
    4: (INPUTS / "border6-mqc-ipv4-only.cfg").read_text(),
    46: (INPUTS / "border6-mqc.cfg").read_text(),
}
LINKS = [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}]
CLEAR4 = ("iptables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0",
          "iptables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0")
CLEAR6 = ("ip6tables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0",
          "ip6tables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0")


def collections(router: str, managed: bool = True, v6: str = V6):
    return {"fw": {"platform": "iptables", "managed": managed, "files": [
        {"name": "iptables-save", "source": "fw.rules", "text": V4},
        {"name": "ip6tables-save", "source": "fw6.rules", "text": v6}]},
        "rtr": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": router}]}}


def audit(router: str, managed: bool = True, v6: str = V6):
    """The audit and the boundary's plan, on the models the audit loaded (as analyze and remediate plan)."""
    return audit_collections(collections(router, managed, v6))


def audit_collections(given):
    loaded = loader.load_fleet({name: {"diffserv_collection": value} for name, value in given.items()}, LINKS)
    findings = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    hosts = bundle.hosts_from_collections(given)
    fleet = reaudit.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls)
    (plan,) = core.plan_remediation(findings, hosts, core.Options(strategies=("remark_boundary",)),
                                    hier.staged_commands, fleet=fleet)
    return findings, fleet, plan


def firewall_changes(plan):
    return [change for change in plan.changes if change.host == "fw"]


def left_by_the_firewall(fleet, plan):
    """The conflicts left when only the firewall's changes are made (the router as it runs, as when it is not ours):
    the boundary also clears at the router, which would hide a firewall part that clears the wrong family."""
    return reaudit.audit_texts(fleet, *reaudit.split_texts(fleet, [(c, c.candidate) for c in firewall_changes(plan)]))


def test_both_dumps_are_kept_for_planning_the_ipv6_one_beside_the_ipv4_one():
    hosts = bundle.hosts_from_collections(collections(ROUTERS[46]))
    assert (hosts["fw"].source, hosts["fw"].text) == ("fw.rules", V4)
    assert hosts["fw"].ipv6 is not None and (hosts["fw"].ipv6.source, hosts["fw"].ipv6.text) == ("fw6.rules", V6)
    # A host with one dump has nothing beside it.
    one = [{"name": "iptables-save", "source": "fw.rules", "text": V4}]
    single = {"fw": dict(collections(ROUTERS[46])["fw"], files=one)}
    assert bundle.hosts_from_collections(single)["fw"].ipv6 is None


@pytest.mark.parametrize("router, conflicts, planned", [
    (6, {6}, [(6, CLEAR6)]),
    (4, {4}, [(4, CLEAR4)]),
    (46, {4, 6}, [(4, CLEAR4), (6, CLEAR6)]),
], ids=["ipv6-conflict", "ipv4-conflict", "both"])
def test_each_dump_with_conflicts_of_its_family_gets_its_own_clearing_rule_and_the_plan_re_audits_clean(
        router, conflicts, planned):
    findings, fleet, plan = audit(ROUTERS[router])
    assert {c.family for c in findings.conflicts if c.marker.host == "fw"} == conflicts
    changes = firewall_changes(plan)
    assert [(c.family, (c.commands[0], c.rollback[0])) for c in changes] == [
        (family, (command, rollback)) for family, (command, rollback) in planned]
    for change in changes:
        # Planned from the text of its own family: the running text is that dump, the candidate adds one rule.
        assert (change.source, change.running) == ({4: ("fw.rules", V4), 6: ("fw6.rules", V6)}[change.family])
        assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00\nCOMMIT" in change.candidate
        tool = "ip6tables" if change.family == 6 else "iptables"
        assert change.checks and all(check.command.startswith(tool) for check in change.checks)
        # The rule the conflicts come from is named, and it is in this dump.
        (keep,) = [action for action in change.actions if action.verb == "keep"]
        assert all(change.running.split("\n")[line - 1] == text for line, text in keep.lines)
    assert plan.clean, (plan.recheck, plan.stage_problems)
    assert plan.recheck is not None and plan.recheck.conflicts == ()
    alone = left_by_the_firewall(fleet, plan)
    assert alone.conflicts == () and alone.errors == ()


def test_several_ipv6_conflicts_on_the_host_make_one_ip6tables_change():
    # Two IPv6 rules writing DSCP 1 (two conflicts of one family): one clearing rule in the IPv6 dump covers both.
    extra = "-A POSTROUTING -o eth0 -p udp -m udp --dport 53 -j TOS --set-tos 0x04/0xff\nCOMMIT"
    findings, fleet, plan = audit(ROUTERS[6], v6=V6.replace("COMMIT", extra, 1))
    assert len([c for c in findings.conflicts if c.family == 6 and c.marker.host == "fw"]) >= 2
    assert [(c.family, c.commands) for c in firewall_changes(plan)] == [(6, (CLEAR6[0],))]
    assert plan.clean and left_by_the_firewall(fleet, plan).conflicts == ()


def test_with_conflicts_in_both_families_neither_dump_alone_re_audits_clean():
    findings, fleet, plan = audit(ROUTERS[46])
    four, six = firewall_changes(plan)
    only4 = reaudit.audit_texts(fleet, *reaudit.split_texts(fleet, [(four, four.candidate)]))
    only6 = reaudit.audit_texts(fleet, *reaudit.split_texts(fleet, [(six, six.candidate)]))
    assert {c.family for c in only4.conflicts} == {6} and {c.family for c in only6.conflicts} == {4}
    both = reaudit.audit_texts(fleet, *reaudit.split_texts(fleet, [(four, four.candidate), (six, six.candidate)]))
    assert both.conflicts == () and both.errors == ()
    # The IPv6 candidate is read as the IPv6 dump it is (not as the host's IPv4 text).
    assert reaudit.split_texts(fleet, [(four, "a"), (six, "b")]) == ({"fw": "a"}, {"fw": "b"})
    assert reaudit.audit_texts(fleet, {}).conflicts == findings.conflicts


def test_planned_from_the_ipv4_dump_only_the_firewall_leaves_its_ipv6_conflicts(monkeypatch):
    # The mutation the feature fixes: a firewall planned from its IPv4 dump alone (no dump beside it).  The
    # IPv6 conflict then gets an IPv4 rule that does not touch it: the router's clearing hides that in the
    # plan's re-audit, the firewall's part re-audited alone does not.
    monkeypatch.setattr(reaudit.Firewall, "part", lambda self, family: self)
    _findings, fleet, plan = audit(ROUTERS[6])
    assert [change.family for change in firewall_changes(plan)] == [4]
    assert {c.family for c in left_by_the_firewall(fleet, plan).conflicts} == {6}


def test_a_fleet_built_from_the_texts_alone_plans_both_dumps_too():
    # plan_remediation without the audit's models: build_fleet loads the IPv6 dump beside the IPv4 one.
    given = collections(ROUTERS[46])
    loaded = loader.load_fleet({name: {"diffserv_collection": value} for name, value in given.items()}, LINKS)
    findings = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    (plan,) = core.plan_remediation(findings, bundle.hosts_from_collections(given),
                                    core.Options(strategies=("remark_boundary",)), hier.staged_commands)
    assert [change.family for change in firewall_changes(plan)] == [4, 6]
    assert plan.clean, (plan.recheck, plan.stage_problems)


def test_the_bundle_shows_both_changes_with_their_rollback(tmp_path):
    given = collections(ROUTERS[46])
    loaded = loader.load_fleet({name: {"diffserv_collection": value} for name, value in given.items()}, LINKS)
    findings = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    summary = bundle.write_bundles(findings, given, str(tmp_path), {"strategies": ["remark_boundary"]}, loaded=loaded)
    folder = tmp_path / "changes" / "remark_boundary"
    assert (folder / "fw.commands").read_text() == CLEAR4[0] + "\n"
    assert (folder / "fw.rollback").read_text() == CLEAR4[1] + "\n"
    assert (folder / "fw.ipv6.commands").read_text() == CLEAR6[0] + "\n"
    assert (folder / "fw.ipv6.rollback").read_text() == CLEAR6[1] + "\n"
    assert (folder / "fw.ipv6.candidate").read_text().startswith("# Generated by ip6tables-save")
    assert "+-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in (folder / "fw.ipv6.diff").read_text()
    data = json.loads((folder / "plan.json").read_text())
    assert data["clean"] is True
    host = data["hosts"]["fw"]
    assert host["commands"] == [CLEAR4[0]] and host["ipv6"]["commands"] == [CLEAR6[0]]
    assert host["ipv6"]["rollback"] == [CLEAR6[1]]
    assert "fw.ipv6.commands" in host["files"] and "fw.commands" in host["files"]
    assert summary["strategies"]["remark_boundary"]["clean"] is True
    change_md = (folder / "CHANGE.md").read_text()
    for needed in ("apply `fw.commands`", "apply `fw.ipv6.commands`", "apply `fw.ipv6.rollback`",
                   "### fw (IPv6 dump, ip6tables)", "`ip6tables-save -t mangle | grep -e '^-A POSTROUTING '`",
                   CLEAR6[1]):
        assert needed in change_md, needed


def test_a_host_we_do_not_manage_gets_a_request_for_each_dump(tmp_path):
    given = collections(ROUTERS[46], managed=False)
    loaded = loader.load_fleet({name: {"diffserv_collection": value} for name, value in given.items()}, LINKS)
    findings = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    bundle.write_bundles(findings, given, str(tmp_path), {"strategies": ["remark_boundary"]}, loaded=loaded)
    folder = tmp_path / "changes" / "remark_boundary"
    assert CLEAR4[0] in (folder / "fw.request.md").read_text()
    six = (folder / "fw.ipv6.request.md").read_text()
    assert CLEAR6[0] in six and CLEAR4[0] not in six
    # Each request quotes the rules of its own dump only.
    assert "--dport 1024:65535 -j TOS --set-tos 0x04/0xff" in six and "--set-tos 0x04/0xff" not in V4
    assert "--dport 512:65535 -j TOS --set-tos 0x04" not in six and "--dport 110 -j TOS" not in six
    assert not (folder / "fw.commands").exists() and not (folder / "fw.ipv6.commands").exists()


# ---------------------------------------------------------------------- one saved file holding both dumps
# What `iptables-save > fw.rules; ip6tables-save >> fw.rules` leaves: the audit reads both families from the one
# file (diffserv_config_file), and the boundary clears each in its own dump of that file, with its own tool.
BOTH = V4.rstrip("\n") + "\n" + V6


def audit_one_file(router: str, managed: bool = True, text: str = BOTH):
    given = collections(router, managed)
    given["fw"]["files"] = [{"name": "iptables-save", "source": "fw.rules", "text": text}]
    return audit_collections(given)


@pytest.mark.parametrize("router, conflicts, commands", [
    (6, {6}, [CLEAR6[0]]),
    (4, {4}, [CLEAR4[0]]),
    (46, {4, 6}, [CLEAR4[0], CLEAR6[0]]),
], ids=["ipv6-conflict", "ipv4-conflict", "both"])
def test_one_file_with_both_dumps_is_cleared_in_each_dump_whose_family_conflicts(router, conflicts, commands):
    findings, fleet, plan = audit_one_file(ROUTERS[router])
    assert {c.family for c in findings.conflicts} == conflicts
    (change,) = firewall_changes(plan)
    assert change.family == 4 and list(change.commands) == commands
    assert list(change.rollback) == [command.replace(" -A ", " -D ") for command in reversed(commands)]
    # One candidate file, its rule in each dump that needed one (the IPv6 dump starts after the IPv4 COMMITs).
    lines = change.candidate.split("\n")
    ipv6_start = next(index for index, line in enumerate(lines) if line.startswith("# Generated by ip6tables-save"))
    rule = "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00"  # as iptables-save prints it
    where = {4 if index < ipv6_start else 6 for index, line in enumerate(lines) if line == rule}
    assert where == conflicts
    # Clean: both families re-audited from the one candidate, also with only the firewall's change made.
    assert plan.clean, (plan.recheck, plan.stage_problems)
    assert not left_by_the_firewall(fleet, plan).conflicts
    # The checks list each family's chain with its own tool.
    tools = {check.command.split("-save")[0] for check in change.checks if "-save" in check.command}
    assert tools == {"ip6tables" if family == 6 else "iptables" for family in conflicts}


def test_before_one_file_was_planned_from_its_ipv4_dump_only_the_ipv6_conflict_stayed():
    """The case the change is for: with only an IPv6 conflict, a clearing rule in the IPv4 dump leaves it."""
    findings, fleet, plan = audit_one_file(ROUTERS[6])
    (change,) = firewall_changes(plan)
    only_ipv4 = change.candidate.split("\n")
    ipv6_start = next(index for index, line in enumerate(only_ipv4) if line.startswith("# Generated by ip6tables"))
    assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0" not in only_ipv4[:ipv6_start]
    wrong = BOTH.replace(":POSTROUTING ACCEPT [0:0]\n", ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j DSCP "
                         "--set-dscp 0\n", 1)
    left = reaudit.audit_texts(fleet, {"fw": wrong})
    assert [c.family for c in left.conflicts] == [6]
