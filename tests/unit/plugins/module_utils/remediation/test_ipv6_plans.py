# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remove_policy and change_dscp on IPv6 conflicts: `ipv6 policy route-map`, `ipv6 traffic-filter` and
`ipv6 access-list` entries by sequence number, in their own namespace, each candidate re-audited clean.

IOS takes an IPv6 entry as `permit ... sequence 10` and prints it as `sequence 10 permit ...` (IOS-XE) or
`permit ... sequence 10`; an entry goes with `no permit ... sequence 10` inside `ipv6 access-list NAME`, the
form Cisco's cisco.ios acls module sends (rm_templates/acls.py, `sequence` last for afi ipv6).
"""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import reaudit
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import HostText
from ansible_collections.diffserv.audit.plugins.plugin_utils import hier

INPUTS = pathlib.Path(__file__).parents[4] / "fixtures" / "inputs" / "ipv6"
MAIL6 = (INPUTS / "mail6-fw.rules").read_text()
PBR6 = (INPUTS / "border6-pbr.cfg").read_text()

# A traffic filter that denies DSCP 1 among other entries, and an IPv4 list of the same name the IPv6
# change must not touch (each family names its lists on its own).
FILTER6 = """hostname border6-filter
!
ip access-list extended EDGE
 deny   ip any any dscp 1
 permit ip any any
!
ipv6 access-list EDGE
 permit icmp any any nd-na
 deny ipv6 any any dscp 1 sequence 20
 permit ipv6 any any sequence 30
!
interface GigabitEthernet0/0
 ip access-group EDGE in
 ipv6 traffic-filter EDGE in
!
interface GigabitEthernet0/1
 ipv6 address 2001:db8:1::1/64
!
end
"""


def audit(router: str, firewall_managed: bool = False):
    results = {
        "fw": {"diffserv_collection": {"platform": "iptables", "managed": firewall_managed, "files": [
            {"name": "ip6tables-save", "source": "fw6.rules", "text": MAIL6}]}},
        "rtr": {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": router}]}}}
    fleet = loader.load_fleet(results, [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}])
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    hosts = {"fw": HostText("fw", "iptables", MAIL6, "fw6.rules", firewall_managed),
             "rtr": HostText("rtr", "ios", router, "rtr.cfg")}
    return findings, core.plan_remediation(findings, hosts, core.Options(strategies=("remove_policy", "change_dscp")),
                                           hier.staged_commands,
                                           fleet=reaudit.fleet_from_loaded(findings, hosts, fleet.routers,
                                                                           fleet.firewalls))


def router_change(plans, strategy: str):
    (chosen,) = [p for p in plans if p.strategy == strategy]
    (change,) = [c for c in chosen.changes if c.host == "rtr"]
    return chosen, change


def test_remove_policy_takes_ipv6_policy_routing_out_and_re_audits_clean():
    findings, plans = audit(PBR6)
    assert [(c.family, c.treatment.action) for c in findings.conflicts] == [(6, "null-routed")]
    plan, change = router_change(plans, "remove_policy")
    assert plan.clean, (plan.recheck, plan.stage_problems)
    assert "ipv6 policy route-map" not in change.candidate and "ipv6 access-list LE-TRAFFIC" not in change.candidate
    # The interface lets go first, then the route-map, then the IPv6 list (hier_config's order, our weights).
    commands = list(change.commands)
    assert commands.index(" no ipv6 policy route-map null6") < commands.index("no route-map null6 permit 10") \
        < commands.index("no ipv6 access-list LE-TRAFFIC")
    assert any("ipv6 access-list LE-TRAFFIC" in lost for lost in change.protections_lost)


def test_change_dscp_moves_an_ipv6_entry_by_sequence_number_new_before_old():
    _findings, plans = audit(PBR6)
    plan, change = router_change(plans, "change_dscp")
    assert plan.clean, (plan.recheck, plan.stage_problems)
    commands = list(change.commands)
    added = " permit ipv6 any any dscp 3 sequence 20"
    removed = " no permit ipv6 any any dscp 1 sequence 10"
    assert added in commands and removed in commands and commands.index(added) < commands.index(removed)
    assert " sequence 20 permit ipv6 any any dscp 3" in change.candidate.splitlines()
    # The numbers the commands rely on are checked on the device before and after.
    shown = {(check.phase, check.command): check.expect for check in change.checks}
    assert shown[("pre", "show ipv6 access-list LE-TRAFFIC")] == ("permit ipv6 any any dscp 1 sequence 10",)
    assert shown[("post", "show ipv6 access-list LE-TRAFFIC")] == ("permit ipv6 any any dscp 3 sequence 20",)


def test_remove_policy_removes_one_ipv6_filter_entry_and_leaves_the_ipv4_list_of_the_same_name():
    findings, plans = audit(FILTER6)
    assert {(c.family, c.treatment.action) for c in findings.conflicts} == {(6, "dropped")}
    plan, change = router_change(plans, "remove_policy")
    assert plan.clean, (plan.recheck, plan.stage_problems)
    assert change.commands == ("ipv6 access-list EDGE", " no deny ipv6 any any dscp 1 sequence 20", " exit")
    candidate = change.candidate.splitlines()
    assert " deny   ip any any dscp 1" in candidate and " ipv6 traffic-filter EDGE in" in candidate
    assert " permit icmp any any nd-na" in candidate and " permit ipv6 any any sequence 30" in candidate


def test_change_dscp_numbers_the_new_ipv6_entry_between_its_neighbours():
    _findings, plans = audit(FILTER6)
    plan, change = router_change(plans, "change_dscp")
    assert plan.clean, (plan.recheck, plan.stage_problems)
    six = change.commands[change.commands.index("ipv6 access-list EDGE"):]
    # Between 20 (the entry it replaces) and 30 (the final permit): before the permit, as the old one was.
    assert " deny ipv6 any any dscp 3 sequence 25" in six and " no deny ipv6 any any dscp 1 sequence 20" in six


def test_change_dscp_numbers_an_unnumbered_ipv6_list_as_ios_did():
    # No entry carries a number in the text: IOS numbered them 10, 20 when they were entered. The new entry
    # gets one between them (else IOS would append it after the final permit), the old goes by its 10.
    router = FILTER6.replace(" deny ipv6 any any dscp 1 sequence 20\n permit ipv6 any any sequence 30\n",
                             " deny ipv6 any any dscp 1\n permit ipv6 any any\n")
    assert "sequence" not in router
    _findings, plans = audit(router)
    plan, change = router_change(plans, "change_dscp")
    assert plan.clean, (plan.recheck, plan.stage_problems)
    six = list(change.commands[change.commands.index("ipv6 access-list EDGE"):])
    added = next(line for line in six if line.startswith(" deny ipv6 any any dscp 3 sequence "))
    assert 20 < int(added.rsplit(" ", 1)[1]) < 30
    assert " no deny ipv6 any any dscp 1 sequence 20" in six and six.index(added) < six.index(
        " no deny ipv6 any any dscp 1 sequence 20")


@pytest.mark.parametrize("entry", [" sequence 10 permit ipv6 any any dscp 1", " permit ipv6 any any dscp 1 sequence 10"])
def test_hier_reads_both_ipv6_sequence_spellings(entry):
    running = "ipv6 access-list LE\n%s\n permit ipv6 any any sequence 20\n!\nend\n" % entry
    intended = "ipv6 access-list LE\n permit ipv6 any any sequence 20\n!\nend\n"
    staged = hier.staged_commands(running, [intended])
    assert staged.commands == ("ipv6 access-list LE", " no permit ipv6 any any dscp 1 sequence 10", " exit")
    assert staged.rollback == ("ipv6 access-list LE", " permit ipv6 any any dscp 1 sequence 10", " exit")
    assert staged.sequences["ipv6 LE"] == {"permit ipv6 any any dscp 1": 10, "permit ipv6 any any": 20}


def test_remark_boundary_clears_an_ipv6_only_firewall_with_ip6tables_and_its_candidate_re_audits_clean():
    # The host has an ip6tables-save dump only: the strategies plan from it (bundle.hosts_from_collections takes
    # the first analysed item it has), the clearing rule goes into its mangle POSTROUTING with ip6tables, and the
    # candidate is re-audited as the IPv6 dump it is.
    findings, _plans = audit(PBR6, firewall_managed=True)
    results = {"fw": {"diffserv_collection": {"platform": "iptables", "managed": True, "files": [
        {"name": "iptables-save", "source": "fw.rules", "text": ""},
        {"name": "ip6tables-save", "source": "fw6.rules", "text": MAIL6}]}},
        "rtr": {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": PBR6}]}}}
    from ansible_collections.diffserv.audit.plugins.plugin_utils.bundle import hosts_from_collections

    hosts = hosts_from_collections({name: value["diffserv_collection"] for name, value in results.items()})
    assert hosts["fw"].source == "fw6.rules" and hosts["fw"].text == MAIL6
    loaded = loader.load_fleet(results, [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}])
    fleet = reaudit.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls)
    assert "fw" in fleet.firewalls and fleet.firewalls["fw"].ruleset.family == 6
    (plan,) = core.plan_remediation(findings, hosts, core.Options(strategies=("remark_boundary",)),
                                    hier.staged_commands, fleet=fleet)
    (change,) = [c for c in plan.changes if c.host == "fw"]
    assert change.family == 6
    assert change.commands == ("ip6tables -t mangle -A POSTROUTING -o eth0 -j DSCP --set-dscp 0",)
    assert change.rollback == ("ip6tables -t mangle -D POSTROUTING -o eth0 -j DSCP --set-dscp 0",)
    assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00\nCOMMIT" in change.candidate
    assert all(check.command.startswith("ip6tables") for check in change.checks)
    assert plan.clean, (plan.recheck, plan.stage_problems)
    # The firewall's candidate alone (the router as it runs) leaves no conflict: it is read as IPv6.
    again = reaudit.audit_texts(fleet, {"fw": change.candidate})
    assert again.errors == () and again.conflicts == ()
    assert reaudit.audit_texts(fleet, {}).conflicts == findings.conflicts
