# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transit tables shared between exits alike: computed once, answering as if computed one by one."""

from __future__ import annotations

import importlib.util
import pathlib
import textwrap
import typing as t

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import FateTable, shared_transit_tables, transit_table, transit_tables
from ansible_collections.diffserv.audit.plugins.module_utils.ios.model import Interface, IosConfig
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios

BENCH = pathlib.Path(__file__).resolve().parents[5] / "bench"

# Three exits with no output feature, two with the same output ACL; the entry marks (NBAR
# class to DSCP 1) and filters (DSCP 8 denied), so the output ACL sees re-marked bytes.
ROUTER = """
hostname r1
interface GigabitEthernet0/0
 ip access-group 101 in
 service-policy input MARK
interface GigabitEthernet0/1
interface GigabitEthernet0/2
interface GigabitEthernet0/3
interface GigabitEthernet0/4
 ip access-group 120 out
interface GigabitEthernet0/5
 ip access-group 120 out
interface Null0
class-map match-any WEB
 match protocol http
policy-map MARK
 class WEB
  set dscp 1
access-list 101 deny ip any any dscp 8
access-list 101 permit ip any any
access-list 120 deny ip any any dscp 1
access-list 120 permit tcp any any eq 25
access-list 120 permit ip any any dscp 0
access-list 120 deny ip any any
end
"""
EXITS = ["GigabitEthernet0/1", "GigabitEthernet0/2", "GigabitEthernet0/3", "GigabitEthernet0/4", "GigabitEthernet0/5"]


def cfg(text: str) -> IosConfig:
    return parse_ios(textwrap.dedent(text).lstrip("\n"), "test.cfg")


def answers(table: FateTable, swap: t.Mapping[tuple[int, str], dict[str, t.Any]] | None = None) -> list[dict[str, t.Any]]:
    """What for_byte says for each of the 256 bytes, as data (conditions compare by identity, their dicts by value).

    `swap` replaces steps (by line and text) with others: a shared view cites the first exit's attachment line.
    """
    swap = swap or {}
    said: dict[int, dict[str, t.Any]] = {}
    out = []
    for byte in range(256):
        fate_class = table.for_byte(byte)
        answer = said.get(id(fate_class))
        if answer is None:
            answer = said[id(fate_class)] = fate_class.as_dict()
            for path in answer["paths"]:
                path["steps"] = [swap.get((step["line"], step["what"]), step) for step in path["steps"]]
        out.append(answer)
    return out


def attachment_swap(shared: FateTable, own: FateTable) -> dict[tuple[int, str], dict[str, t.Any]]:
    """The first exit's output attachment steps -> this exit's, matched by position among the stages."""
    pairs = zip(shared.stages, own.stages)
    return {(a.source.line, a.what): b.as_dict() for a, b in pairs if a != b}


def test_exits_without_output_features_share_one_table_and_the_acl_pair_another() -> None:
    config = cfg(ROUTER)
    shared = shared_transit_tables(config, "Gi0/0")
    assert [group.out_interfaces for group in shared] == [tuple(EXITS[:3]), tuple(EXITS[3:])]
    views = transit_tables(config, "Gi0/0")
    assert [view.out_interface for view in views] == EXITS
    assert len({id(view.classes) for view in views}) == 2


def test_every_exit_answers_every_byte_as_computed_alone() -> None:
    config = cfg(ROUTER)
    views = {view.out_interface: view for view in transit_tables(config, "Gi0/0")}
    for name in EXITS:
        alone = transit_table(config, "Gi0/0", name)
        view = views[name]
        assert view.stages == alone.stages
        assert (view.interface, view.direction, view.shutdown) == (alone.interface, alone.direction, alone.shutdown)
        if name == "GigabitEthernet0/5":
            # Shares Gi0/4's classes: the same paths, citing Gi0/4's `ip access-group 120 out`.
            assert answers(view, attachment_swap(views["GigabitEthernet0/4"], alone)) == answers(alone)
            assert answers(view) != answers(alone)
        else:
            assert answers(view) == answers(alone)


def test_the_shared_tables_still_tell_the_exits_apart_by_fate() -> None:
    config = cfg(ROUTER)
    views = {view.out_interface: view for view in transit_tables(config, "Gi0/0")}
    # DSCP 8 is denied on the way in, everywhere; NBAR-marked DSCP 1 only by ACL 120 on the way out.
    for name in EXITS:
        assert views[name].for_byte(8 << 2).fate == "dropped"
    assert [views[name].for_byte(0).actions for name in EXITS] == [["forwarded"]] * 3 + [["dropped", "forwarded"]] * 2
    assert views["GigabitEthernet0/4"].for_byte(1 << 2).fate == "dropped"
    assert views["GigabitEthernet0/1"].for_byte(1 << 2).fate == "forwarded"


def test_policy_routing_to_one_exit_keeps_that_exit_apart() -> None:
    # Gi0/2 and Gi0/3 have the same output ACL, but the route-map sends DSCP 46 out of Gi0/2:
    # there ACL 120 drops it; on Gi0/3 it never arrives (policy-routed away).
    config = cfg("""
        interface GigabitEthernet0/0
         ip policy route-map VOICE
        interface GigabitEthernet0/1
        interface GigabitEthernet0/2
         ip access-group 120 out
        interface GigabitEthernet0/3
         ip access-group 120 out
        access-list 150 permit ip any any dscp ef
        access-list 120 deny ip any any dscp ef
        access-list 120 permit ip any any
        route-map VOICE permit 10
         match ip address 150
         set interface GigabitEthernet0/2
        end
    """)
    shared = shared_transit_tables(config, "Gi0/0")
    assert [group.out_interfaces for group in shared] == [("GigabitEthernet0/1",), ("GigabitEthernet0/2",), ("GigabitEthernet0/3",)]
    views = {view.out_interface: view for view in transit_tables(config, "Gi0/0")}
    for name, view in views.items():
        assert answers(view) == answers(transit_table(config, "Gi0/0", name or ""))
    assert views["GigabitEthernet0/2"].for_byte(46 << 2).fate == "dropped"
    assert views["GigabitEthernet0/3"].for_byte(46 << 2).fate == "policy-routed"


def generated_router(interfaces: int = 40, edit: t.Callable[[str], str] = lambda text: text) -> IosConfig:
    """A 40-interface router from the bench's generator (loaded by path: bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_ios_config", BENCH / "gen_ios_config.py")
    if spec is None or spec.loader is None:
        raise AssertionError("bench/gen_ios_config.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generate = t.cast(t.Callable[..., str], module.generate)
    return parse_ios(edit(generate(3000 + 40 * interfaces, interfaces=interfaces, acl_entries=600)), "bench.cfg")


@pytest.mark.parametrize("pick", ["input policy and policy routing", "input ACL only", "no input feature"])
def test_generated_router_every_exit_agrees_with_its_own_computation(pick: str) -> None:
    """The bench's generator (ACLs, marking and policing policies, policy routing), 40 interfaces."""
    config = generated_router()
    wanted: t.Callable[[Interface], bool] = {
        "input policy and policy routing": lambda i: bool(i.policy_in and i.pbr),
        "input ACL only": lambda i: bool(i.acl_in and not i.policy_in and not i.pbr),
        "no input feature": lambda i: not (i.acl_in or i.policy_in or i.pbr),
    }[pick]
    entry = next((i.name for i in config.interfaces.values() if not i.shutdown and wanted(i)), None)
    if entry is None:
        pytest.skip("the generated router has no open interface with %s" % pick)
    firsts = {group.out_interfaces[0] for group in shared_transit_tables(config, entry)}
    views = transit_tables(config, entry)
    assert len({id(view.classes) for view in views}) == len(firsts) < len(views)
    for view in views:
        name = view.out_interface or ""
        alone = transit_table(config, entry, name)
        assert view.stages == alone.stages
        if name in firsts:
            assert answers(view) == answers(alone)
        else:
            first = next(v for v in views if v.classes is view.classes)
            assert answers(view, attachment_swap(first, alone)) == answers(alone)


def test_interfaces_alike_share_their_own_fate_table_and_the_advisories_stay_the_same() -> None:
    """interface_fate_tables: one table per kind of interface and direction (the bench's generator, 200
    interfaces; one given an unmodelled line of its own), each answering every byte as the interface's own
    table does once the attachment lines are swapped; the router's advisories are those read off every
    interface's own table."""
    from ansible_collections.diffserv.audit.plugins.module_utils import analysis, dsfield
    from ansible_collections.diffserv.audit.plugins.module_utils.ios.fates import fate_tables, interface_fate_tables

    # Every interface's twin but for a CAR line of its own (which drops, unmodelled): never the same table.
    config = generated_router(200, lambda text: text.replace(
        "interface GigabitEthernet0/1.101\n", "interface GigabitEthernet0/1.101\n"
        " rate-limit output 8000 8000 8000 conform-action transmit exceed-action drop\n", 1))
    car = config.interfaces["GigabitEthernet0/1.101"]
    assert car.unmodeled
    rows = interface_fate_tables(config)
    alone = fate_tables(config)
    assert [(name, direction) for name, direction, _shut, _table in rows] == [(own.interface, own.direction) for own in alone]
    assert len({id(table) for *_row, table in rows}) < len(rows) * 3 / 4
    car_table = next(table for name, direction, _shut, table in rows if name == car.name and direction == "out")
    assert car_table.interface == car.name and all(
        table is not car_table for name, _direction, _shut, table in rows if name != car.name)
    for (name, _direction, shut, shared), own in zip(rows, alone):
        assert shut == own.shutdown
        assert answers(shared, attachment_swap(shared, own)) == answers(own), name
    legacy = dsfield.dscps_from_rfc1349()
    wanted = [(own.interface, own.direction, kind, lines, dscp) for own in alone
              if not own.shutdown and not own.interface.lower().startswith(("null", "loopback"))
              for kind, lines, dscp in analysis._table_advice(own, legacy)]
    got = analysis.router_advisories(analysis.RouterInput("r", "bench.cfg", config))
    assert len(wanted) > 20 and {row[2] for row in wanted} == {"drops-lower-effort", "internal-marker-on-legacy-codepoint"}
    assert [(a.interface, a.direction, a.kind, a.lines) for a in got] == [row[:4] for row in wanted]
    # Each text names its own interface (drops) or codepoint (markers), not the first alike interface's.
    assert all(("%s %s:" % ("arriving on" if a.direction == "in" else "leaving by", a.interface)) in a.text
               if a.kind == "drops-lower-effort" else ("marks DSCP %s," % dsfield.dscp_label(row[4])) in a.text
               for a, row in zip(got, wanted))
