# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hand-made fleets, one per kind of conflict, audited the way the analyze action does it."""

from __future__ import annotations

import dataclasses
import pathlib

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
FIREWALL = "partner-fw"


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A router configuration whose uplink receives the partner firewall's traffic."""

    name: str
    router_file: str
    interface: str
    kind: str
    router: str = "edge-rtr"


SCENARIOS = (
    Scenario("founding", "border-rtr1.cfg", "GigabitEthernet0/0", "policy routing to Null0", "border-rtr1"),
    Scenario("acl-out", "codered-acl-out.cfg", "Serial0/0", "applied ACL deny dscp 1 (output)"),
    Scenario("police", "police-drop.cfg", "GigabitEthernet0/0", "policer with a drop action"),
    Scenario("class-drop", "class-drop.cfg", "GigabitEthernet0/0", "class-map with drop"),
    Scenario("remark", "remark.cfg", "GigabitEthernet0/0", "re-mark to another codepoint"),
    Scenario("pbr-only", "pbr-only.cfg", "GigabitEthernet0/0", "policy routing, no input policy"),
    Scenario("acl-in", "acl-in.cfg", "GigabitEthernet0/0", "input ACL deny dscp 1 (before any policy)"),
    Scenario("shared-policy", "shared-policy.cfg", "GigabitEthernet0/0", "marking policy attached twice"),
    Scenario("kept-refs", "kept-refs.cfg", "GigabitEthernet0/0", "class-map and ACL used elsewhere"),
    Scenario("named-acl-seq", "named-acl-seq.cfg", "GigabitEthernet0/0", "named ACL printed with sequence numbers"),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def hosts(scenario: Scenario, *, firewall_managed: bool = False, router_text: str | None = None,
          firewall_text: str | None = None) -> dict[str, core.HostText]:
    return {
        FIREWALL: core.HostText(FIREWALL, "iptables", firewall_text or read("partner-fw.rules"), "partner-fw.rules",
                                firewall_managed),
        scenario.router: core.HostText(scenario.router, "ios", router_text or read(scenario.router_file),
                                       scenario.router_file),
    }


def audit(scenario: Scenario, texts: dict[str, core.HostText], assumed: bool = False) -> dict:
    """analysis.analyze over the fleet, with the link the inventory would give (diffserv_links).

    `assumed`: no diffserv_links, so every firewall egress may reach every router interface.
    """
    seed = {
        "summary": {"firewalls": [FIREWALL], "routers": [scenario.router]},
        "links": [] if assumed else [{"from": "%s:eth0" % FIREWALL,
                                      "to": "%s:%s" % (scenario.router, scenario.interface), "assumed": False}],
        "conflicts": [],
    }
    return core.audit_texts(core.build_fleet(seed, texts, core.Options()), {})


def build(scenario: Scenario, assumed: bool = False, **kwargs) -> tuple[dict[str, core.HostText], dict]:
    texts = hosts(scenario, **kwargs)
    return texts, audit(scenario, texts, assumed)
