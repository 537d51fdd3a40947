"""outputs.text and outputs.view: the words and the finished data the reports print."""

import copy
import doctest
import re

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.outputs import baseline, junit, picture, sarif, text, view

from .conftest import golden

REPR = re.compile(r"\[\'|\{\'|\': |\(\'")


@pytest.mark.parametrize("module", [text, view, picture, sarif, junit, baseline])
def test_the_examples_in_each_docstring_run(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


def test_flow_terms_say_lists_as_words():
    flow = {"protocols": ["tcp", "udp"], "sport": "any", "dport": ["110", "512-65535"], "src": "any",
            "dst": ["192.0.2.0/24"], "classes": 1}
    assert text.flow_terms(flow) == ("protocols tcp, udp, source ports any, destination ports 110, 512-65535, "
                                     "to 192.0.2.0/24; 1 class")


def test_packet_words_read_a_router_trace_packet():
    packet = {"dport": 512, "in_interface": "GigabitEthernet0/0", "out_interface": "GigabitEthernet0/1",
              "protocol": "tcp", "sport": 0, "tos": 4}
    assert text.packet_words(packet) == ("a tcp packet from port 0 to port 512 with DS byte 0x04, entering "
                                         "GigabitEthernet0/0, leaving by GigabitEthernet0/1")
    assert text.packet_words({"protocol": 47, "src": "192.0.2.1", "path": "output", "vrf": "x"}) == \
        "a 47 packet from 192.0.2.1 (vrf x)"


@pytest.mark.parametrize("byte, meaning", [
    (0x04, "precedence 0 (routine), TOS 2: maximize reliability"),
    (0x10, "precedence 0 (routine), TOS 8: minimize delay"),
    (0xb8, "precedence 5 (critical), TOS 12: not an RFC 1349 value (RFC 1349 defines 0, 1, 2, 4 and 8)"),
    (0x03, "precedence 0 (routine), TOS 1: minimize monetary cost; the must-be-zero bit is set"),
])
def test_tos_meaning_is_what_rfc_1349_read_in_the_byte(byte, meaning):
    assert text.tos_meaning(byte) == meaning


def test_conflicts_sharing_the_router_treatment_form_one_group_with_every_marking_rule():
    shaped = view.report_view(golden("founding"))
    (group,) = shaped["groups"]
    assert [c["marker"]["line"] for c in group["conflicts"]] == [35, 23, 25]
    assert len(group["lines"]) == 9 and group["lines"][-1]["words"].endswith("border-rtr1.cfg:91 `set interface Null0`")
    assert group["trace"].startswith("Confirmed by a router trace of a tcp packet from 0.0.0.0 port 0 to port 512")
    assert group["heading"] == "DSCP 1 null-routed on border-rtr1 GigabitEthernet0/0 (critical): 3 marking rules"


def test_a_different_deciding_line_makes_another_group():
    findings = golden("founding")
    findings["conflicts"][1]["treatment"]["lines"][0]["line"] = 47
    assert [len(g["conflicts"]) for g in view.report_view(findings)["groups"]] == [2, 1]


def test_every_view_is_free_of_python_reprs(scenario):
    _name, findings = scenario
    shaped = view.report_view(findings)
    for conflict in shaped["conflicts"]:
        words = [conflict["picture"]["description"], *(f["terms"] for f in conflict["flows"])]
        words += [line["text"] for box in conflict["picture"]["boxes"] for line in box["lines"]]
        for word in words:
            assert not REPR.search(word), word
    for group in shaped["groups"]:
        assert not REPR.search(group["trace"]), group["trace"]


def test_each_conflict_has_a_picture_with_both_ends_and_both_fates(scenario):
    _name, findings = scenario
    for raw, conflict in zip(findings["conflicts"], view.report_view(findings)["conflicts"]):
        boxes = conflict["picture"]["boxes"]
        assert [b["kind"] for b in boxes] == ["firewall", "byte", "link", "router", "fate", "unmarked"]
        router_lines = " ".join(line["text"] for line in boxes[3]["lines"])
        for line in raw["treatment"]["lines"]:
            assert str(line["line"]) in router_lines
        assert raw["treatment"]["action"].upper() in boxes[4]["heading"]["text"]
        assert boxes[5]["heading"]["text"].endswith(raw["treatment"]["unmarked_action"])
        # Laid out top to bottom without overlap; the two fates side by side.
        for upper, lower in zip(boxes[:4], boxes[1:5]):
            assert upper["y"] + upper["h"] < lower["y"]
        assert boxes[4]["y"] == boxes[5]["y"] and boxes[4]["x"] + boxes[4]["w"] < boxes[5]["x"]
        assert max(b["y"] + b["h"] for b in boxes) < conflict["picture"]["height"]


def test_a_long_rule_is_wrapped_inside_its_box_not_cut():
    findings = golden("founding")
    rule = "-A POSTROUTING " + " ".join("-m comment --comment word%d" % n for n in range(40)) + " -j TOS --set-tos 0x04"
    findings["conflicts"][0]["marker"]["rule"] = rule
    box = view.report_view(findings)["conflicts"][0]["picture"]["boxes"][0]
    columns = int((box["w"] - 2 * picture.PAD) // picture.ADVANCE)
    assert all(len(line["text"]) <= columns for line in box["lines"])
    assert "".join(line["text"].strip() for line in box["lines"][1:]).replace(" ", "") == rule.replace(" ", "")


def test_earlier_writers_are_quoted_with_their_file_and_text():
    findings = golden("assumed-paths")
    marker = findings["conflicts"][0]["marker"]
    lines = ["line %d" % n for n in range(1, 60)]
    lines[marker["writers"][0] - 1] = "-A POSTROUTING -j TOS --set-tos 0x10 -m comment --comment password=hunter2"
    shaped = view.report_view(findings, {marker["file"]: lines})
    (earlier,) = shaped["conflicts"][0]["marker"]["earlier"]
    assert earlier["where"] == "%s:%d" % (marker["file"], marker["writers"][0])
    assert "hunter2" not in earlier["text"] and "--set-tos 0x10" in earlier["text"]
    without = view.report_view(findings)["conflicts"][0]["marker"]["earlier"]
    assert without[0]["text"] == "(text not at hand)"


def test_observations_render_when_present_and_are_empty_safe():
    findings = golden("founding")
    assert view.report_view(findings)["observations"] == []
    findings = copy.deepcopy(findings)
    findings["observations"] = [{"capture": "fail.pcapng", "point": "partner-fw:eth0", "symptom": "handshake-stalled",
                                 "frames": [3, 5], "text": "SYN/ACKs carry DS byte 0x04 (frames 3, 5)"}]
    findings["conflicts"][0]["observed"] = {"packets_null_routed": 1200}
    shaped = view.report_view(findings)
    assert shaped["observations"] == [{"label": "fail.pcapng at partner-fw:eth0",
                                       "value": "SYN/ACKs carry DS byte 0x04 (frames 3, 5)"}]
    assert shaped["conflicts"][0]["observed"] == [{"label": "packets_null_routed", "value": "1200"}]
    assert shaped["conflicts"][1]["observed"] == []


def test_observations_as_the_analyze_action_writes_them_show_each_sentence():
    # The keys plugins/plugin_utils/evidence.py adds: observations, contradictions, capture_diff, capture_notes.
    findings = golden("founding")
    findings.update({
        "observations": [{"capture": "a.pcap", "point": "partner-fw:eth0", "text": "the SYN/ACK left with 0x04"}],
        "contradictions": [{"text": "b.pcap shows 0x00 where the audit predicts 0x04"}],
        "capture_diff": [{"text": "the DS field differs: 0x00 in b.pcap, 0x04 in a.pcap"}],
        "capture_notes": ["point x:eth9 names no audited host"]})
    assert view.report_view(findings)["observations"] == [
        {"label": "a.pcap at partner-fw:eth0", "value": "the SYN/ACK left with 0x04"},
        {"label": "contradicts the audit", "value": "b.pcap shows 0x00 where the audit predicts 0x04"},
        {"label": "working vs failing", "value": "the DS field differs: 0x00 in b.pcap, 0x04 in a.pcap"},
        {"label": "note", "value": "point x:eth9 names no audited host"}]


def test_a_deciding_line_of_another_file_is_shown_with_its_file():
    findings = golden("founding")
    findings["conflicts"][0]["treatment"]["lines"][1]["file"] = "other.cfg"
    shaped = view.report_view(findings)
    labels = [line["label"] for line in shaped["groups"][0]["lines"]]
    assert labels[0] == "46" and labels[1] == "other.cfg:84"
    router = shaped["conflicts"][0]["picture"]["boxes"][3]
    assert any("other.cfg:84  access-list 110" in line["text"] for line in router["lines"])
