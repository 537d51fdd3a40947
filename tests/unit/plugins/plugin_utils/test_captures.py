# -*- coding: utf-8 -*-
"""Reading captures: pcap and pcapng, the link types a bridge call meets, and files that are not captures.

The fixtures are built by tests/fixtures/captures/make.py: byte by byte with struct (the story, VLAN,
QinQ, raw IPv6, a two-interface pcapng), and captured by tcpdump from a namespace pair (kernel-*).
"""

import pathlib
import struct
import sys

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.observations import (
    ARRIVING, HANDSHAKE_STALLED, LEAVING, OK, UNKNOWN, CaptureError, capture_diff, conversations,
)
from ansible_collections.diffserv.audit.plugins.plugin_utils.captures import (
    read_capture, read_capture_bytes, read_captures,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "captures"
sys.path.insert(0, str(FIXTURES))
import make  # noqa: E402  (the fixture builder: frames and writers)

STORY_TIME = 1141747107.0


def _read(name):
    return read_capture(str(FIXTURES / name), name)


def _directions(capture):
    return {(d.src, d.sport): d for c in conversations(capture) for d in c.directions}


def test_failing_story_pcapng_shows_the_stalled_handshake_with_ds_byte_0x04():
    capture = _read("story-failing.pcapng")
    assert capture.format == "pcapng" and capture.linktypes == (1,)
    directions = _directions(capture)
    reply = directions[("203.0.113.25", 25)]
    assert reply.symptom == HANDSHAKE_STALLED
    assert reply.ds_bytes == (0x04,)
    # Frame 2 is an ARP request: not IP, yet counted, as Wireshark numbers frames.
    assert reply.frames == (3, 5, 7)
    assert "frames 4, 6" in reply.detail
    syn = directions[("198.51.100.25", 28680)]
    assert syn.ds_bytes == (0,) and syn.frames == (1, 4, 6)
    assert capture.frames == 7 and len(capture.packets) == 6
    assert capture.notes == ("1 frame(s) not read: not IP (ethertype 0x0806) (frames 2)",)


def test_working_story_pcap_is_ok_both_ways():
    capture = _read("story-working.pcap")
    assert [d.symptom for c in conversations(capture) for d in c.directions] == [OK, OK]
    assert {d.ds_bytes for c in conversations(capture) for d in c.directions} == {(0,)}


def test_packet_record_fields_of_the_first_syn_ack():
    packet = _read("story-failing.pcapng").packets[1]
    assert (packet.frame, packet.family, packet.src, packet.dst, packet.sport, packet.dport) == (
        3, 4, "203.0.113.25", "198.51.100.25", 25, 28680)
    assert packet.flags == "SYN,ACK" and (packet.seq, packet.ack) == (5000, 1001)
    assert (packet.ds_byte, packet.ttl, packet.length, packet.dont_fragment) == (0x04, 64, 60, True)
    assert packet.tcp_options == (2, 4, 8, 3)  # MSS, SACK permitted, timestamps, window scale
    assert packet.time == pytest.approx(STORY_TIME + 0.001, abs=1e-6)
    assert packet.src_mac == make.SERVER_MAC


def test_capture_diff_names_the_ds_field_with_frame_numbers():
    diffs = capture_diff(_read("story-failing.pcapng"), _read("story-working.pcap"))
    assert len(diffs) == 1
    diff = diffs[0]
    # Which one worked is read from the symptoms, whatever the order given.
    assert (diff.working, diff.failing) == ("story-working.pcap", "story-failing.pcapng")
    assert diff.fields == ("ds_byte",)
    assert [(p.packet, p.working_frame, p.failing_frame) for p in diff.packets] == [
        ("SYN,ACK #1 203.0.113.25 -> 198.51.100.25", 2, 3)]
    assert diff.packets[0].fields[0].as_dict() == {"field": "ds_byte", "working": 0, "failing": 4}
    assert "0x00" in diff.text and "0x04" in diff.text
    assert "ip_id" in diff.ignored and "seq" in diff.ignored


def test_capture_diff_of_two_failing_captures_is_empty():
    assert capture_diff(_read("story-failing.pcapng"), _read("story-failing-vlan.pcap")) == ()


@pytest.mark.parametrize("name, tags", [("story-failing-vlan.pcap", (100,)), ("story-failing-qinq.pcap", (200, 100))])
def test_vlan_tagged_frames_are_read_with_their_tags(name, tags):
    capture = _read(name)
    assert {p.vlan for p in capture.packets} == {tags}
    reply = _directions(capture)[("203.0.113.25", 25)]
    assert reply.symptom == HANDSHAKE_STALLED and reply.ds_bytes == (4,)


def test_nanosecond_pcap_times():
    assert _read("story-failing-vlan.pcap").packets[0].time == pytest.approx(STORY_TIME, abs=1e-9)


def test_raw_ipv6_traffic_class_is_the_ds_byte():
    capture = _read("story-failing-ipv6-raw.pcap")
    assert capture.linktypes == (101,)
    packet = capture.packets[1]
    assert (packet.family, packet.src, packet.ds_byte, packet.ttl, packet.ip_id, packet.length) == (
        6, "2001:db8:2::25", 0x04, 64, None, 80)  # 40 bytes of IPv6 header + TCP with 20 bytes of options
    assert _directions(capture)[("2001:db8:2::25", 25)].symptom == HANDSHAKE_STALLED


def test_two_interface_pcapng_reads_each_interface_with_its_link_type_and_clock():
    capture = _read("two-interfaces.pcapng")
    assert capture.linktypes == (1, 276)
    assert capture.frames == 15
    first_cooked = capture.packets[9]
    assert first_cooked.frame == 10 and first_cooked.direction == ARRIVING
    assert first_cooked.time == pytest.approx(STORY_TIME + 10, abs=1e-6)
    assert capture.packets[10].direction == LEAVING and capture.packets[10].ds_byte == 4
    assert capture.packets[0].direction == UNKNOWN  # Ethernet says nothing about who captured
    diffs = capture_diff(capture, _read("story-failing.pcapng"))
    assert [d.fields for d in diffs] == [("ds_byte",)]


def test_kernel_capture_on_any_is_sll2_and_knows_who_sent():
    capture = _read("kernel-failing-any-sll2.pcap")
    assert capture.linktypes == (276,)
    directions = _directions(capture)
    reply = directions[("203.0.113.25", 25)]
    assert reply.direction == LEAVING and reply.ds_bytes == (4,) and reply.symptom == HANDSHAKE_STALLED
    assert directions[("198.51.100.25", 28681)].direction == ARRIVING


def test_kernel_pcap_and_its_pcapng_rewrite_read_the_same():
    pcap, pcapng = _read("kernel-failing.pcap"), _read("kernel-failing.pcapng")
    assert pcapng.format == "pcapng" and pcap.format == "pcap"
    assert len(pcap.packets) == len(pcapng.packets) >= 5
    for a, b in zip(pcap.packets, pcapng.packets):
        assert a.time == pytest.approx(b.time, abs=1e-6)
        assert (a.frame, a.src, a.dst, a.sport, a.dport, a.tcp_flags, a.seq, a.ds_byte) == (
            b.frame, b.src, b.dst, b.sport, b.dport, b.tcp_flags, b.seq, b.ds_byte)


def test_kernel_ipv6_capture():
    directions = _directions(_read("kernel-failing-ipv6.pcap"))
    reply = directions[("2001:db8:2::25", 25)]
    assert reply.family == 6 and reply.ds_bytes == (4,) and reply.symptom == HANDSHAKE_STALLED


def test_a_file_that_is_not_a_capture_is_an_error_naming_it():
    with pytest.raises(CaptureError) as raised:
        _read("not-a-capture.pcap")
    assert isinstance(raised.value, DiffservError)
    assert str(raised.value).startswith("not-a-capture.pcap: not a packet capture")


def test_empty_and_missing_files():
    with pytest.raises(CaptureError, match="empty.pcap: not a packet capture: an empty file"):
        read_capture_bytes(b"", "empty.pcap")
    with pytest.raises(CaptureError, match="nowhere.pcap: cannot read the capture"):
        read_capture("/nonexistent/nowhere.pcap", "nowhere.pcap")


def test_an_error_message_quotes_the_name_redacted_and_bounded():
    with pytest.raises(CaptureError) as raised:
        read_capture_bytes(b"junk", "x" * 1000)
    assert "(800 more characters)" in str(raised.value)


def test_read_captures_reports_each_bad_file_and_reads_the_rest():
    read, errors = read_captures([{"file": "story-working.pcap", "point": "fw:eth0"},
                                  {"file": "not-a-capture.pcap", "point": "fw:eth0"},
                                  {"file": "story-failing.pcapng", "point": "fw:eth0"}], base=str(FIXTURES))
    assert [capture.file for _entry, capture in read] == ["story-working.pcap", "story-failing.pcapng"]
    assert [error.file for error in errors] == ["not-a-capture.pcap"]


def test_a_pcap_cut_short_keeps_what_came_before_and_says_so():
    data = (FIXTURES / "story-working.pcap").read_bytes()
    # Cut inside the fourth record's header: tcpdump killed while writing.
    position, count = 24, 0
    while count < 3:
        caplen = struct.unpack_from("<I", data, position + 8)[0]
        position += 16 + caplen
        count += 1
    capture = read_capture_bytes(data[:position + 6], "cut.pcap")
    assert len(capture.packets) == 3
    assert capture.notes == ("the file is cut short after frame 3",)


def test_a_pcapng_cut_short_keeps_what_came_before_and_says_so():
    data = (FIXTURES / "story-failing.pcapng").read_bytes()
    capture = read_capture_bytes(data[:-10], "cut.pcapng")
    assert capture.frames == 6
    assert any(note.startswith("the file is cut short after frame 6") for note in capture.notes)


def test_snap_length_keeps_the_headers_it_has():
    syn_ack = make.story_packets(True)[1][1]
    frame = make.ethernet(make.SERVER_MAC, make.CLIENT_MAC, syn_ack)
    short = frame[:14 + 20 + 20 + 4]  # 58 bytes: TCP header, one option word
    cut_ip = frame[:14 + 12]  # inside the IP header
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 58, 1)
    records = b"".join(struct.pack("<IIII", 1, 0, len(f), len(frame)) + f for f in (short, cut_ip))
    capture = read_capture_bytes(header + records, "snap.pcap")
    packet = capture.packets[0]
    assert (packet.length, packet.flags, packet.ds_byte, packet.tcp_options) == (60, "SYN,ACK", 4, (2,))
    assert capture.frames == 2 and "IP header cut short" in capture.notes[0] and "(frames 2)" in capture.notes[0]


def test_an_unsupported_link_type_is_an_error():
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105)  # 802.11
    with pytest.raises(CaptureError, match="wifi.pcap: link type 105 is not read"):
        read_capture_bytes(header, "wifi.pcap")


def test_big_endian_pcap():
    data = (FIXTURES / "story-working.pcap").read_bytes()
    # Rewrite the file header and every record header big-endian.
    out = [struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", data))]
    position = 24
    while position < len(data):
        fields = struct.unpack_from("<IIII", data, position)
        out.append(struct.pack(">IIII", *fields) + data[position + 16:position + 16 + fields[2]])
        position += 16 + fields[2]
    capture = read_capture_bytes(b"".join(out), "be.pcap")
    assert len(capture.packets) == 9 and capture.packets[0].time == pytest.approx(STORY_TIME, abs=1e-6)


def _example_fleet():
    from ansible_collections.diffserv.audit.plugins.module_utils import loader
    example = FIXTURES.parents[2] / "inventories" / "example" / "files"
    results = {"partner-fw": {"diffserv_collection": {"platform": "iptables", "files": [
        {"name": "iptables-save", "source": "partner-fw.rules", "text": (example / "partner-fw.rules").read_text()}]}},
        "border-rtr1": {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "border.cfg", "text": (example / "border-router.cfg").read_text()}]}}}
    return loader.load_fleet(results, [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])


def test_capture_observations_from_inventory_entries_reports_each_bad_entry_and_the_rest():
    from ansible_collections.diffserv.audit.plugins.plugin_utils.captures import capture_observations
    fleet = _example_fleet()
    entries = [{"file": "story-working.pcap", "point": "partner-fw:eth0"},
               {"file": "not-a-capture.pcap", "point": "partner-fw:eth0"},
               {"file": "story-failing.pcapng", "point": "partner-fw:eth0"},
               {"file": "story-failing.pcapng"}]
    observed, problems = capture_observations(entries, fleet.firewalls, fleet.routers, fleet.links, base=str(FIXTURES))
    assert [p["capture"] for p in problems] == ["not-a-capture.pcap", "story-failing.pcapng"]
    assert problems[0]["reason"].startswith("not-a-capture.pcap: not a packet capture")
    assert problems[1]["reason"].endswith("needs `file` and `point` as host:interface")
    reply = [o for o in observed.observations if o.capture == "story-failing.pcapng" and o.flow["sport"] == 25][0]
    assert (reply.marker.line, reply.treatment.action, reply.symptom) == (35, "null-routed", HANDSHAKE_STALLED)
    assert [(d.working, d.failing, d.fields) for d in observed.capture_diffs] == [
        ("story-working.pcap", "story-failing.pcapng", ("ds_byte",))]
    assert {c.capture for c in observed.contradictions} == {"story-working.pcap"}
    assert observed.notes == ("story-failing.pcapng: 1 frame(s) not read: not IP (ethertype 0x0806) (frames 2)",)
