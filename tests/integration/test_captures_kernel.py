"""The founding story captured from the kernel, read back and tied to the audited example fleet.

A network namespace pair (tests/fixtures/captures/make.py): the partner's mail server with the
story's rule (`-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -j TOS --set-tos 0x04`) and,
on the far side, DSCP 1 dropped (the border router's null route).  tcpdump captures on the
server's eth0 (Ethernet) and on `any` (Linux cooked v2), IPv4 and IPv6.  Root only; skipped with
the reason otherwise.
"""

import os
import pathlib
import shutil
import sys

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import loader
from ansible_collections.diffserv.audit.plugins.module_utils.counters import iptables_counters
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.observations import (
    HANDSHAKE_STALLED, LEAVING, OK, CaptureSource, capture_diff, conversations, observe,
)
from ansible_collections.diffserv.audit.plugins.plugin_utils.captures import read_capture

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "captures"
EXAMPLE = ROOT / "inventories" / "example" / "files"
sys.path.insert(0, str(FIXTURES))
import make  # noqa: E402


def _reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces, iptables, tcpdump)"
    for tool in ("ip", "iptables", "ip6tables", "tcpdump"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


pytestmark = [pytest.mark.kernel, pytest.mark.skipif(_reason() is not None, reason=_reason() or "")]


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("captures")
    found = {}
    with make.NamespacePair("dsacap-%d-t-" % os.getpid()) as pair:
        for name, marking, family, interface, sport in (
                ("working.pcap", False, 4, "eth0", 41000), ("failing.pcap", True, 4, "eth0", 41001),
                ("failing-any.pcap", True, 4, "any", 41002), ("failing-v6.pcap", True, 6, "eth0", 41003)):
            found[name] = make.capture_story(folder, pair, name, marking, family, interface, sport, timeout=2.5)
            if marking and family == 4:
                # The kernel's own counters, right after the connection (the next capture flushes the rules).
                dump = pair.exec(pair.partner, ["iptables-save", "-c", "-t", "mangle"]).stdout
                (folder / (name + ".iptables-save-c")).write_text(dump)
    make.pcap_to_pcapng(folder / "failing.pcap", folder / "failing.pcapng")
    found["failing.pcapng"] = (folder / "failing.pcapng", found["failing.pcap"][1])
    return found


def _reply(capture):
    return [d for c in conversations(capture) for d in c.directions if d.sport == 25][0]


def test_the_client_connects_without_the_rule_and_times_out_with_it(captured):
    assert captured["working.pcap"][1] == "connected"
    assert all(captured[name][1].startswith("failed") for name in ("failing.pcap", "failing-any.pcap", "failing-v6.pcap"))


@pytest.mark.parametrize("name, family", [("failing.pcap", 4), ("failing.pcapng", 4), ("failing-any.pcap", 4),
                                          ("failing-v6.pcap", 6)])
def test_the_kernel_marked_syn_acks_are_read_as_a_stalled_handshake_with_ds_byte_0x04(captured, name, family):
    capture = read_capture(str(captured[name][0]), name)
    reply = _reply(capture)
    assert (reply.family, reply.ds_bytes, reply.symptom) == (family, (0x04,), HANDSHAKE_STALLED)
    request = [d for c in conversations(capture) for d in c.directions if d.dport == 25][0]
    assert request.ds_bytes == (0,) and len(request.frames) >= 2  # the SYN, sent again
    # Every frame numbered, the SYN/ACKs after the first SYN.
    assert min(reply.frames) > min(request.frames)


def test_the_any_capture_is_linux_cooked_v2_and_says_the_replies_left_the_server(captured):
    capture = read_capture(str(captured["failing-any.pcap"][0]), "failing-any.pcap")
    assert capture.linktypes == (276,)
    assert _reply(capture).direction == LEAVING


def test_the_working_capture_is_ok_and_differs_from_the_failing_one_in_the_ds_field_only(captured):
    working = read_capture(str(captured["working.pcap"][0]), "working.pcap")
    failing = read_capture(str(captured["failing.pcap"][0]), "failing.pcap")
    assert {d.symptom for c in conversations(working) for d in c.directions} == {OK}
    diffs = capture_diff(failing, working)
    assert [(d.working, d.failing, d.fields) for d in diffs] == [("working.pcap", "failing.pcap", ("ds_byte",))]
    assert diffs[0].packets[0].packet.startswith("SYN,ACK #1 ")


def test_the_real_capture_is_tied_to_partner_fw_line_35_and_the_null_route(captured):
    results = {"partner-fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "partner-fw.rules", "text": (EXAMPLE / "partner-fw.rules").read_text()}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg", "text": (EXAMPLE / "border-router.cfg").read_text()}]}}}
    fleet = loader.load_fleet(results, [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    captures = [(CaptureSource(name, "partner-fw:eth0"), read_capture(str(captured[name][0]), name))
                for name in ("working.pcap", "failing-any.pcap")]
    observed = observe(captures, fleet.firewalls, fleet.routers, fleet.links)
    reply = [o for o in observed.observations if o.capture == "failing-any.pcap" and o.flow["sport"] == 25][0]
    assert (reply.ds_bytes, reply.symptom, reply.predicted_ds_byte) == ((4,), HANDSHAKE_STALLED, 4)
    assert (reply.marker.file, reply.marker.line) == ("partner-fw.rules", 35)
    assert reply.treatment.action == "null-routed" and reply.contradiction is None
    # The working capture was taken with the rules off: the audited dump says otherwise.
    assert {c.capture for c in observed.contradictions} == {"working.pcap"}


@pytest.mark.parametrize("name", ["failing.pcap", "failing-any.pcap"])
def test_the_kernel_counter_of_the_marking_rule_counts_every_syn_ack_the_capture_shows(captured, name):
    path = captured[name][0]
    dump = (path.parent / (name + ".iptables-save-c")).read_text()
    ruleset = parse_ruleset(dump, "partner.rules")
    counters = iptables_counters(ruleset)
    marking = [rule for chain in ruleset.tables["mangle"].chains for rule in ruleset.tables["mangle"].rules(chain)
               if rule.writes_byte]
    assert len(marking) == 1
    counter = counters[marking[0].line]
    reply = _reply(read_capture(str(path), name))
    assert counter.packets == len(reply.frames) > 0
    assert counter.bytes == sum(p.length for p in reply.packets)
