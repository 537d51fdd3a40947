# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet's strategies planned on two cores give the plans one process gives, and a child that fails costs
no plan (its strategies are planned by the parent)."""

from __future__ import annotations

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, forking, loader
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import plan as core
from ansible_collections.diffserv.audit.plugins.module_utils.remediation import reaudit
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import HostText
from ansible_collections.diffserv.audit.plugins.plugin_utils import hier

from .scenarios import SCENARIOS, read


def fleet_of_every_scenario(copies: int = 1):
    """Each scenario's router behind its own managed partner firewall: 20 hosts a copy, every kind of conflict."""
    results, links, hosts = {}, [], {}
    for index, scenario in enumerate(SCENARIOS * copies):
        firewall, router = "fw%02d" % index, "rtr%02d" % index
        fw_text, router_text = read("partner-fw.rules"), read(scenario.router_file)
        results[firewall] = {"diffserv_collection": {"platform": "iptables", "managed": True, "files": [
            {"name": "iptables-save", "source": firewall + ".rules", "text": fw_text}]}}
        results[router] = {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": router + ".cfg", "text": router_text}]}}
        links.append({"from": firewall + ":eth0", "to": "%s:%s" % (router, scenario.interface)})
        hosts[firewall] = HostText(firewall, "iptables", fw_text, firewall + ".rules", True)
        hosts[router] = HostText(router, "ios", router_text, router + ".cfg")
    loaded = loader.load_fleet(results, links)
    findings = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    return findings, hosts, loaded


def plans(monkeypatch, serial: bool):
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "1" if serial else "")
    findings, hosts, loaded = fleet_of_every_scenario()
    fleet = reaudit.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls)
    return fleet, core.plan_remediation(findings, hosts, core.Options(), hier.staged_commands, fleet=fleet)


def test_two_cores_plan_what_one_process_plans(monkeypatch, forks):
    forked_pids = forks
    fleet, serial = plans(monkeypatch, serial=True)
    assert len(fleet.audited) >= forking.FORK_MIN_HOSTS and forked_pids == []
    _fleet, forked = plans(monkeypatch, serial=False)
    assert len(forked_pids) == 2  # every other firewall's load, then the strategies shared with one child
    assert [plan.strategy for plan in forked] == list(core.Options().strategies)
    assert forked == serial
    assert sum(len(plan.changes) for plan in forked) >= 20 and any(plan.clean for plan in forked)


def test_a_child_that_fails_costs_no_plan(monkeypatch):
    _fleet, serial = plans(monkeypatch, serial=True)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the child cannot pickle its plans")

    # The child inherits the broken pickler and exits non-zero; the parent plans its strategies itself.
    monkeypatch.setattr(forking.pickle, "dumps", broken)
    _fleet, forked = plans(monkeypatch, serial=False)
    assert forked == serial


def test_bundles_rendered_on_two_cores_are_the_files_one_process_writes(monkeypatch, tmp_path):
    import os

    from ansible_collections.diffserv.audit.plugins.plugin_utils import bundle

    findings, hosts, loaded = fleet_of_every_scenario()
    collections = {}
    for name, host in hosts.items():
        item = "iptables-save" if host.platform == "iptables" else "running-config"
        collections[name] = {"platform": host.platform, "managed": host.managed,
                             "files": [{"name": item, "source": host.source, "text": host.text}]}
    summaries, trees = {}, {}
    for mode in ("1", ""):
        monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", mode)
        folder = tmp_path / ("serial" if mode else "forked")
        summaries[mode] = bundle.write_bundles(findings, collections, str(folder), loaded=loaded)
        trees[mode] = {os.path.relpath(path, folder): path.read_text() for path in folder.rglob("*") if path.is_file()}
    assert len(trees["1"]) > 20 and trees["1"].keys() == trees[""].keys()
    assert trees["1"] == {name: text.replace(str(tmp_path / "forked"), str(tmp_path / "serial"))
                          for name, text in trees[""].items()}
    assert list(summaries[""]["strategies"]) == list(summaries["1"]["strategies"]) == list(core.Options().strategies)


def test_the_audits_joins_serve_the_re_audits(monkeypatch):
    # The audit remembers each link's conflicts on the loaded models (loader.Fleet.joins): a re-audit that
    # changes one router joins that router's link again and no other.
    findings, hosts, loaded = fleet_of_every_scenario()
    assert findings.conflicts
    joined = []
    real = analysis.conflicts_on_link

    def counting(link, *args, **kwargs):
        joined.append(link.router)
        return real(link, *args, **kwargs)

    monkeypatch.setattr(analysis, "conflicts_on_link", counting)
    again = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes,
                             joins=loaded.joins)
    assert len(joined) == len(loaded.links) and again.conflicts == findings.conflicts
    fleet = reaudit.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls, loaded.joins)
    joined.clear()
    assert reaudit.audit_texts(fleet, {}).conflicts == findings.conflicts and joined == []
    changed = hosts["rtr00"].text.replace("dscp 1", "dscp 3")
    assert changed != hosts["rtr00"].text
    reaudit.audit_texts(fleet, {"rtr00": changed})
    assert joined == ["rtr00"]


def test_the_audit_joins_a_fleets_links_on_two_cores_with_the_same_findings(monkeypatch, forks):
    findings, _hosts, loaded = fleet_of_every_scenario(copies=2)
    assert len(loaded.links) >= forking.FORK_MIN_HOSTS
    forks.clear()  # the load's child
    parallel = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes,
                                joins=loaded.joins, parallel=True)
    assert len(forks) == 1
    assert parallel == findings and len(parallel.conflicts) >= 20
    # What the child joined is remembered here too: an unchanged re-audit joins nothing.
    joined = []
    real = analysis.conflicts_on_link
    monkeypatch.setattr(analysis, "conflicts_on_link", lambda link, *rest: joined.append(link) or real(link, *rest))
    again = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, joins=loaded.joins, details=False)
    assert joined == [] and again.conflicts == findings.conflicts


def test_a_fleets_firewalls_loaded_on_two_cores_audit_as_loaded_in_one_process(monkeypatch, forks):
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "1")
    serial, _hosts, serial_loaded = fleet_of_every_scenario()
    assert forks == []
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "")
    forked, _hosts, loaded = fleet_of_every_scenario()
    assert len(forks) == 1
    assert forked == serial and len(forked.conflicts) >= 10
    assert (sorted(loaded.firewalls), sorted(loaded.routers), loaded.errors, loaded.notes) == (
        sorted(serial_loaded.firewalls), sorted(serial_loaded.routers), serial_loaded.errors, serial_loaded.notes)
    # Every other firewall came from the child: a model that crossed a pipe, its map's build caches left behind
    # (they fill again when asked).
    marks = [model.marks for model in loaded.firewalls.values()]
    assert sum(1 for m in marks if not m._symrules) == len(marks) // 2


def test_a_load_child_that_fails_loses_no_host(monkeypatch):
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "1")
    serial, _hosts, _loaded = fleet_of_every_scenario()
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "")

    def broken(*_args, **_kwargs):
        raise RuntimeError("the child cannot pickle its models")

    monkeypatch.setattr(forking.pickle, "dumps", broken)
    forked, _hosts, loaded = fleet_of_every_scenario()
    assert forked == serial and len(loaded.firewalls) == 10


def test_advisories_shared_with_the_child_come_out_in_order_with_their_errors(monkeypatch, forks):
    """The child computes every other router's advisories beside its joins: the findings (advisories, and the
    error of a router whose advisories raise, in either process) are those of one process."""
    findings, _hosts, loaded = fleet_of_every_scenario(copies=2)
    real = analysis.router_advisories
    failing = {"rtr01", "rtr02"}  # one router the child computes, one this process does

    def flaky(router):
        if router.host in failing:
            raise RuntimeError("advisories of %s cannot be computed" % router.host)
        return real(router)

    monkeypatch.setattr(analysis, "router_advisories", flaky)
    serial = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    forks.clear()
    parallel = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes,
                                parallel=True)
    assert len(forks) == 1
    assert parallel == serial and len(parallel.advisories) >= 10
    assert sorted(e.host for e in parallel.errors if "advisories" in e.stage) == sorted(failing)
    assert [a for a in findings.advisories if a.host not in failing] == list(parallel.advisories)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the child cannot pickle")

    # A child that fails: its joins and advisories are computed here.
    monkeypatch.setattr(forking.pickle, "dumps", broken)
    assert analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes,
                            parallel=True) == serial


def test_the_bundle_folders_are_taken_costliest_first_by_whoever_is_free(monkeypatch, tmp_path, forks):
    from ansible_collections.diffserv.audit.plugins.plugin_utils import bundle

    findings, hosts, loaded = fleet_of_every_scenario()
    collections = {name: {"platform": host.platform, "managed": host.managed,
                          "files": [{"name": "iptables-save" if host.platform == "iptables" else "running-config",
                                     "source": host.source, "text": host.text}]} for name, host in hosts.items()}
    taken = []

    def recorded(keys, compute, valid):
        taken.append(list(keys))
        return forking.computed_shared(keys, compute, valid)

    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "")
    monkeypatch.setattr(bundle, "computed_shared", recorded)
    before = len(forks)
    summary = bundle.write_bundles(findings, collections, str(tmp_path), loaded=loaded)
    # One queue of the four folders, the costliest (the texts of the hosts it changes) first, shared with a child.
    assert len(taken) == 1 and sorted(taken[0]) == sorted(core.Options().strategies)
    fleet = reaudit.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls)
    plans = {plan.strategy: plan for plan in core.plan_remediation(findings, hosts, core.Options(),
                                                                   hier.staged_commands, fleet=fleet)}
    costs = [bundle._render_cost(plans[name]) for name in taken[0]]
    assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]
    assert len(forks) > before  # a child took part
    assert all((tmp_path / "changes" / name / "CHANGE.md").is_file() for name in taken[0])
    assert list(summary["strategies"]) == list(core.Options().strategies)


def test_one_big_routers_advisories_are_computed_beside_its_join(forks):
    """One link, one router of 300 interfaces (the bench's generator, with the founding incident's policy on the
    uplink): the child computes the router's advisories while this process joins the link; the findings are
    those of one process.  A small router stays in one process."""
    import importlib.util
    import pathlib
    import re

    bench = pathlib.Path(__file__).resolve().parents[5] / "bench"
    spec = importlib.util.spec_from_file_location("gen_ios_config", bench / "gen_ios_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    router = module.generate(4000, interfaces=300, acl_entries=600)
    # List 199: the generator writes lists 100-174.
    founding = ("access-list 199 permit ip any any dscp 1\n!\nroute-map null_policy_route permit 10\n"
                " match ip address 199\n set interface Null0\n!\n")
    # The uplink's own features (the generator's ACLs and policies) give way to the founding incident's.
    router = re.sub(r"^interface GigabitEthernet0/0\n(?: .*\n)*!\n", lambda _m: founding + (
        "interface GigabitEthernet0/0\n ip address 203.0.113.2 255.255.255.252\n"
        " ip policy route-map null_policy_route\n!\n"), router, count=1, flags=re.M)
    assert "set interface Null0" in router
    results = {
        "fw": {"diffserv_collection": {"platform": "iptables", "files": [
            {"name": "iptables-save", "source": "fw.rules", "text": read("partner-fw.rules")}]}},
        "rtr": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": router}]}}}
    loaded = loader.load_fleet(results, [{"from": "fw:eth0", "to": "rtr:GigabitEthernet0/0"}])
    assert len(loaded.routers["rtr"].config.interfaces) >= analysis.FORK_MIN_INTERFACES and not loaded.errors
    serial = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    assert forks == []
    parallel = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes,
                                parallel=True)
    assert len(forks) == 1
    assert parallel == serial and serial.conflicts and serial.advisories
    small, _hosts, small_loaded = fleet_of_every_scenario()
    first = small_loaded.links[0]
    one = {first.router: small_loaded.routers[first.router]}
    analysis.analyze({first.firewall: small_loaded.firewalls[first.firewall]}, one, [first], parallel=True)
    assert len(forks) == 1 + 1  # the load of the 20-host fleet forked; the one small router's audit did not


def test_a_few_big_hosts_plan_each_strategy_in_a_child_of_its_own(monkeypatch, forks):
    """Fewer than 16 hosts whose texts are big (here: any size counts as big): each strategy but the first in a
    child of its own; the plans are those of one process, also where a child fails."""
    scenario = SCENARIOS[0]
    results = {
        "fw": {"diffserv_collection": {"platform": "iptables", "managed": True, "files": [
            {"name": "iptables-save", "source": "fw.rules", "text": read("partner-fw.rules")}]}},
        "rtr": {"diffserv_collection": {"platform": "ios", "managed": True, "files": [
            {"name": "running-config", "source": "rtr.cfg", "text": read(scenario.router_file)}]}}}
    hosts = {"fw": HostText("fw", "iptables", read("partner-fw.rules"), "fw.rules", True),
             "rtr": HostText("rtr", "ios", read(scenario.router_file), "rtr.cfg")}
    loaded = loader.load_fleet(results, [{"from": "fw:eth0", "to": "rtr:%s" % scenario.interface}])
    findings = analysis.analyze(loaded.firewalls, loaded.routers, loaded.links, loaded.errors, loaded.notes)
    assert findings.conflicts

    def planned(serial):
        monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "1" if serial else "")
        fleet = reaudit.fleet_from_loaded(findings, hosts, loaded.routers, loaded.firewalls)
        return core.plan_remediation(findings, hosts, core.Options(), hier.staged_commands, fleet=fleet)

    monkeypatch.setattr(forking, "FORK_MIN_BYTES", 1)
    serial = planned(serial=True)
    assert forks == []
    assert planned(serial=False) == serial
    assert len(forks) == len(core.Options().strategies) - 1

    def broken(*_args, **_kwargs):
        raise RuntimeError("the child cannot pickle its plan")

    monkeypatch.setattr(forking.pickle, "dumps", broken)
    assert planned(serial=False) == serial and any(plan.clean for plan in serial)


def test_computed_apart_takes_the_childs_values_and_recomputes_what_it_refuses(monkeypatch, forks):
    """forking.computed_apart, on which the loader, the planner and the bundles share their work: a group's
    values come from its child (this process does not compute them), a value `valid` refuses is computed here,
    a child that fails costs no value, and without a group nothing forks."""
    import os
    import pickle

    from ansible_collections.diffserv.audit.plugins.module_utils import forking

    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "")
    here: list[int] = []

    def compute(key: int) -> tuple[int, int]:
        here.append(key)
        return key * key, os.getpid()

    values = forking.computed_apart(range(6), compute, [[1, 3], [4]], lambda _key, value: value[0] != 9)
    assert {key: value[0] for key, value in values.items()} == {key: key * key for key in range(6)}
    assert len(forks) == 2 and {values[1][1], values[4][1]} == set(forks)
    assert here == [0, 2, 5, 3] and values[3][1] == values[0][1] == os.getpid()  # 9 refused: computed here

    def broken(*_args, **_kwargs):
        raise pickle.PicklingError("the child cannot pickle")

    monkeypatch.setattr(forking.pickle, "dumps", broken)
    here.clear()
    assert forking.computed_apart("abc", lambda key: key.upper(), [["b", "c"]], lambda _k, _v: True) == \
        {"a": "A", "b": "B", "c": "C"}
    assert len(forks) == 3
    assert forking.computed_apart([1, 2], compute, [], lambda _k, _v: True)[2][0] == 4 and len(forks) == 3


def test_computed_shared_lets_whoever_is_free_take_the_next_key(monkeypatch, forks):
    """forking.computed_shared, on which the planner shares a fleet's strategies: the child and this process
    each take the next key nobody has taken, so a long key on one side leaves the others to the other side;
    every key is computed once; a child that fails costs no value; a refused value is computed here."""
    import os
    import pickle
    import time

    from ansible_collections.diffserv.audit.plugins.module_utils import forking

    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "")

    def compute(key: str) -> tuple[str, int]:
        # "slow" takes long enough that the other side takes every other key meanwhile.
        time.sleep(1.0 if key == "slow" else 0.01)
        return key.upper(), os.getpid()

    keys = ["slow", "a", "b", "c", "d"]
    values = forking.computed_shared(keys, compute, lambda _key, value: True)
    assert list(values) == keys and {key: value[0] for key, value in values.items()} == {k: k.upper() for k in keys}
    assert len(forks) == 1
    sides = {value[1] for value in values.values()}
    assert sides == {os.getpid(), forks[0]}
    # Whoever took "slow" took nothing else: the other side did the four short ones.
    slow_side = values["slow"][1]
    assert [key for key, value in values.items() if value[1] == slow_side] == ["slow"]

    refused = forking.computed_shared(keys[1:], compute, lambda _key, value: value[1] == os.getpid())
    assert {value[1] for value in refused.values()} == {os.getpid()}  # the child's values refused: computed here

    def broken(*_args, **_kwargs):
        raise pickle.PicklingError("the child cannot pickle")

    monkeypatch.setattr(forking.pickle, "dumps", broken)
    assert {key: value[0] for key, value in forking.computed_shared(keys[1:], compute, lambda _k, _v: True).items()} \
        == {"a": "A", "b": "B", "c": "C", "d": "D"}
    monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", "1")
    before = len(forks)
    assert forking.computed_shared(["x", "y"], compute, lambda _k, _v: True)["y"][0] == "Y" and len(forks) == before
