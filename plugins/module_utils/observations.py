# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the network did, from packet captures: conversations, symptoms, differences, observations.

The founding diagnosis was made from two captures taken at the same place, one working and one
failing: the SYN/ACKs of the failing one left with DS byte 0x04 and never arrived.  This module
reads such captures as plain typed packet records (`PacketRecord`; the controller-side reader,
`plugin_utils/captures.py`, makes them from pcap/pcapng files with dpkt) and tells, per direction
of every conversation, what a person on a bridge call would look for:

* `conversations(capture)`: each TCP/UDP conversation, its two directions, the DS byte(s) each
  direction carried, the frames (1-based, as Wireshark counts) and a symptom
  (`handshake-stalled`, `handshake-incomplete`, `no-reply`, `reset`, `retransmitted`,
  `one-way`, `ok`);
* `capture_diff(first, second)`: the IP and TCP header fields that differ between corresponding
  packets of the same conversation once working and once failing (the story's DS field);
* `observations(captures, firewalls, routers, links)`: each direction worth reporting tied to the
  audited configuration: the byte the firewall is predicted to write at that point, the rule that
  wrote the observed byte, what the linked router does with it, and a contradiction note when the
  capture and the configuration disagree.

Standard library only: the records are built elsewhere; nothing here reads a file.

>>> syn = PacketRecord(1, 0.0, 4, "192.0.2.2", "198.51.100.2", 6, 40000, 25, ds_byte=0, tcp_flags=SYN, seq=1)
>>> synack = PacketRecord(2, 0.1, 4, "198.51.100.2", "192.0.2.2", 6, 25, 40000, ds_byte=4, tcp_flags=SYN | ACK,
...                       seq=7, ack=2)
>>> again = PacketRecord(3, 3.0, 4, "192.0.2.2", "198.51.100.2", 6, 40000, 25, ds_byte=0, tcp_flags=SYN, seq=1)
>>> [(d.src, d.symptom) for c in conversations(Capture("x.pcap", "pcap", (1,), (syn, synack, again)))
...  for d in c.directions]
[('192.0.2.2', 'handshake-stalled'), ('198.51.100.2', 'handshake-stalled')]
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, quote

JSON = t.Dict[str, t.Any]

# TCP flag bits (RFC 9293 section 3.1; ECE/CWR from RFC 3168).
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
_FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG"), (ECE, "ECE"),
               (CWR, "CWR"))
TCP, UDP = 6, 17
PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}

# Symptoms, most telling first: a direction shows the first that applies.
HANDSHAKE_STALLED = "handshake-stalled"
HANDSHAKE_INCOMPLETE = "handshake-incomplete"
NO_REPLY = "no-reply"
RESET = "reset"
RETRANSMITTED = "retransmitted"
ONE_WAY = "one-way"
OK = "ok"
SYMPTOMS = (HANDSHAKE_STALLED, HANDSHAKE_INCOMPLETE, NO_REPLY, RESET, RETRANSMITTED, ONE_WAY, OK)

# Where the capture's direction relative to the point's host comes from.
LEAVING, ARRIVING, UNKNOWN = "leaving", "arriving", "unknown"


class CaptureError(DiffservError):
    """A file that is not a capture, or one that cannot be read: names the file, for that capture only."""

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__("%s: %s" % (quote(file), quote(reason, 400)))


def flag_names(flags: int | None) -> str:
    """`SYN,ACK` as Wireshark writes TCP flags; empty for a packet without TCP flags."""
    if flags is None:
        return ""
    return ",".join(name for bit, name in _FLAG_NAMES if flags & bit)


@dataclasses.dataclass(frozen=True, slots=True)
class PacketRecord:
    """One IP packet of a capture, as its headers say (None: not in the packet, or cut by the snap length).

    `frame` counts every frame of the file from 1, as Wireshark does (an ARP frame between two IP
    packets keeps its number); `length` is the IP packet's own length (IPv4 total length, IPv6
    payload length + 40), not what the snap length kept; `direction` is the link layer's word on
    it where it has one (Linux cooked captures: `leaving` the capturing host or `arriving`).
    """

    frame: int
    time: float
    family: int
    src: str
    dst: str
    protocol: int
    sport: int | None = None
    dport: int | None = None
    ds_byte: int = 0
    ttl: int = 0
    ip_id: int | None = None
    length: int = 0
    tcp_flags: int | None = None
    seq: int | None = None
    ack: int | None = None
    window: int | None = None
    tcp_options: tuple[int, ...] = ()
    payload: int = 0
    dont_fragment: bool | None = None
    vlan: tuple[int, ...] = ()
    direction: str = UNKNOWN
    src_mac: str | None = None

    @property
    def flags(self) -> str:
        return flag_names(self.tcp_flags)

    def has(self, bits: int) -> bool:
        return self.tcp_flags is not None and self.tcp_flags & bits == bits

    @property
    def is_syn(self) -> bool:
        return self.has(SYN) and not self.has(ACK)

    @property
    def is_synack(self) -> bool:
        return self.has(SYN | ACK)

    def as_dict(self) -> JSON:
        found = dataclasses.asdict(self)
        found["tcp_options"] = list(self.tcp_options)
        found["vlan"] = list(self.vlan)
        found["flags"] = self.flags
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class Capture:
    """A capture file as read: its packets, and what was not read (never dropped in silence)."""

    file: str
    format: str  # "pcap" or "pcapng"
    linktypes: tuple[int, ...]
    packets: tuple[PacketRecord, ...]
    frames: int = 0  # every frame of the file, IP or not
    notes: tuple[str, ...] = ()  # frames left out and why; a file cut short


# ---------------------------------------------------------------------------
# Conversations and symptoms


@dataclasses.dataclass(frozen=True, slots=True)
class Direction:
    """One direction of a conversation: who sent, what DS byte(s), which frames, what went wrong."""

    protocol: int
    src: str
    dst: str
    sport: int | None
    dport: int | None
    family: int
    frames: tuple[int, ...]
    ds_bytes: tuple[int, ...]  # distinct, in order of first appearance
    symptom: str
    detail: str
    initiator: bool  # this side opened the conversation (sent the SYN; or, without one, the first packet)
    packets: tuple[PacketRecord, ...] = dataclasses.field(repr=False, compare=False, default=())

    @property
    def flow(self) -> JSON:
        return {"protocol": PROTOCOL_NAMES.get(self.protocol, str(self.protocol)), "src": self.src, "dst": self.dst,
                "sport": self.sport, "dport": self.dport}

    @property
    def direction(self) -> str:
        """leaving / arriving (the capturing host's side, from the link layer) or unknown."""
        seen = {packet.direction for packet in self.packets}
        return seen.pop() if len(seen) == 1 else UNKNOWN


@dataclasses.dataclass(frozen=True, slots=True)
class Conversation:
    protocol: int
    family: int
    directions: tuple[Direction, ...]  # the initiator's first

    @property
    def symptom(self) -> str:
        """The conversation's worst symptom (a handshake-stalled conversation is stalled both ways)."""
        return min((d.symptom for d in self.directions), key=SYMPTOMS.index)

    @property
    def working(self) -> bool:
        return all(d.symptom == OK for d in self.directions) and len(self.directions) == 2


def _key(packet: PacketRecord) -> tuple[t.Any, ...]:
    ends = sorted([(packet.src, packet.sport or 0), (packet.dst, packet.dport or 0)])
    return (packet.family, packet.protocol, ends[0], ends[1])


def _frames(packets: t.Iterable[PacketRecord]) -> str:
    numbers = [str(p.frame) for p in packets]
    return ", ".join(numbers[:8]) + (" and %d more" % (len(numbers) - 8) if len(numbers) > 8 else "")


def _retransmissions(packets: t.Sequence[PacketRecord]) -> list[PacketRecord]:
    """Segments sent again: the same sequence number with the same SYN/FIN/data, seen before."""
    seen: set[tuple[int | None, int, int]] = set()
    again = []
    for packet in packets:
        if packet.tcp_flags is None or packet.has(RST):
            continue
        length = packet.payload + (1 if packet.has(SYN) else 0) + (1 if packet.has(FIN) else 0)
        if length == 0:
            continue  # a pure ACK or a window probe: not a retransmission
        key = (packet.seq, length, packet.tcp_flags & (SYN | FIN))
        if key in seen:
            again.append(packet)
        seen.add(key)
    return again


def _tcp_symptom(mine: list[PacketRecord], theirs: list[PacketRecord], initiator: bool) -> tuple[str, str]:
    retransmitted = _retransmissions(mine)
    syns = [p for p in mine if p.is_syn]
    their_syns = [p for p in theirs if p.is_syn]
    synacks = [p for p in mine if p.is_synack]
    if synacks:
        # Acknowledged: the other side sends an ACK (no SYN) of the SYN/ACK's sequence + 1 after it.
        acknowledged = any(p.has(ACK) and not p.has(SYN) and synack.seq is not None and p.ack == (synack.seq + 1) % 2 ** 32
                           and p.frame > synack.frame for synack in synacks for p in theirs)
        if not acknowledged:
            retried = [p for p in their_syns if p.frame > synacks[0].frame]
            if retried:
                return HANDSHAKE_STALLED, (
                    "%d SYN/ACK(s) (frames %s) never acknowledged while the SYN was retransmitted (frames %s): "
                    "these replies do not reach %s" % (len(synacks), _frames(synacks), _frames(retried), synacks[0].dst))
            return HANDSHAKE_INCOMPLETE, ("SYN/ACK(s) (frames %s) not acknowledged before the capture ends"
                                         % _frames(synacks))
    if syns and initiator:
        their_synacks = [p for p in theirs if p.is_synack]
        stalled = their_synacks and not any(
            p.has(ACK) and not p.has(SYN) and s.seq is not None and p.ack == (s.seq + 1) % 2 ** 32
            for s in their_synacks for p in mine)
        if stalled and any(p.frame > their_synacks[0].frame for p in syns):
            return HANDSHAKE_STALLED, (
                "SYN retransmitted (frames %s) although SYN/ACK(s) passed here (frames %s): the replies are lost "
                "between this point and %s" % (_frames(syns[1:]), _frames(their_synacks), syns[0].src))
        if not theirs:
            return NO_REPLY, "%d SYN(s) (frames %s), no packet back at this point" % (len(syns), _frames(syns))
    resets = [p for p in mine if p.has(RST)]
    if resets:
        return RESET, "reset by %s (frames %s)" % (resets[0].src, _frames(resets))
    if retransmitted:
        what = "SYN" if all(p.has(SYN) for p in retransmitted) else "segment"
        return RETRANSMITTED, "%d %s retransmission(s) (frames %s)" % (len(retransmitted), what, _frames(retransmitted))
    if not theirs:
        return ONE_WAY, "only this direction seen at this point"
    return OK, ""


def conversations(capture: Capture) -> tuple[Conversation, ...]:
    """The TCP and UDP conversations of a capture, in order of first frame, each with its directions."""
    grouped: dict[tuple[t.Any, ...], list[PacketRecord]] = {}
    for packet in capture.packets:
        if packet.protocol in (TCP, UDP) and packet.sport is not None and packet.dport is not None:
            grouped.setdefault(_key(packet), []).append(packet)
    found = []
    for packets in grouped.values():
        first = next((p for p in packets if p.is_syn), packets[0])
        sides: dict[tuple[str, int | None], list[PacketRecord]] = {(first.src, first.sport): [], (first.dst, first.dport): []}
        for packet in packets:
            sides[(packet.src, packet.sport)].append(packet)
        directions = []
        for (src, sport), mine in sides.items():
            if not mine:
                continue
            initiator = (src, sport) == (first.src, first.sport)
            theirs = sides[(first.dst, first.dport) if initiator else (first.src, first.sport)]
            if first.protocol == TCP:
                symptom, detail = _tcp_symptom(mine, theirs, initiator)
            else:
                symptom, detail = (OK, "") if theirs else (ONE_WAY, "only this direction seen at this point")
            directions.append(Direction(
                first.protocol, src, mine[0].dst, sport, mine[0].dport, first.family, tuple(p.frame for p in mine),
                tuple(dict.fromkeys(p.ds_byte for p in mine)), symptom, detail, initiator, tuple(mine)))
        found.append(Conversation(first.protocol, first.family, tuple(directions)))
    return tuple(found)


# ---------------------------------------------------------------------------
# Two captures of the same conversation, once working and once failing

# Fields that differ between any two connections (new ports, new sequence numbers, new IP ids,
# later times) and so say nothing about why one failed: left out of the comparison, and said so.
PER_CONNECTION_FIELDS = ("frame", "time", "ip_id", "seq", "ack", "sport (of the initiator)", "dport (of the reply)")
COMPARED_FIELDS = ("ds_byte", "ttl", "dont_fragment", "length", "tcp_flags", "window", "tcp_options", "payload", "vlan")


@dataclasses.dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    working: t.Any
    failing: t.Any

    def as_dict(self) -> JSON:
        return {"field": self.field, "working": self.working, "failing": self.failing}


@dataclasses.dataclass(frozen=True, slots=True)
class PacketDiff:
    """Corresponding packets (the n-th SYN/ACK from the responder in both) and the fields that differ."""

    packet: str  # e.g. "SYN,ACK #1 198.51.100.2 -> 192.0.2.2"
    working_frame: int
    failing_frame: int
    fields: tuple[FieldDiff, ...]

    def as_dict(self) -> JSON:
        return {"packet": self.packet, "working_frame": self.working_frame, "failing_frame": self.failing_frame,
                "fields": [f.as_dict() for f in self.fields]}


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureDiff:
    """Two captures of one conversation (same point), once working and once failing: what differs."""

    working: str  # the capture file of the working conversation
    failing: str
    flow: JSON  # the initiator's direction: protocol, src, dst, dport (sport differs per connection)
    failing_symptom: str
    packets: tuple[PacketDiff, ...]
    fields: tuple[str, ...]  # every field that differs in some pair, in COMPARED_FIELDS order
    ignored: tuple[str, ...] = PER_CONNECTION_FIELDS
    text: str = ""

    def as_dict(self) -> JSON:
        return {"working": self.working, "failing": self.failing, "flow": dict(self.flow),
                "failing_symptom": self.failing_symptom, "fields": list(self.fields),
                "packets": [p.as_dict() for p in self.packets], "ignored": list(self.ignored), "text": self.text}


def _conversation_key(conversation: Conversation) -> tuple[t.Any, ...]:
    first = conversation.directions[0]
    # The initiator's port is new on every connection: the conversation is the same without it.
    return (conversation.family, conversation.protocol, first.src, first.dst, first.dport)


def _field(packet: PacketRecord, name: str) -> t.Any:
    value = getattr(packet, name)
    if name == "tcp_flags":
        return flag_names(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _role_packets(conversation: Conversation) -> dict[tuple[bool, str, int], PacketRecord]:
    """Each packet under (from the initiator?, its flags, its occurrence among those): the pairing key."""
    keyed: dict[tuple[bool, str, int], PacketRecord] = {}
    for direction in conversation.directions:
        counts: dict[str, int] = {}
        for packet in direction.packets:
            counts[packet.flags] = counts.get(packet.flags, 0) + 1
            keyed[(direction.initiator, packet.flags, counts[packet.flags])] = packet
    return keyed


def _diff_conversations(working: Conversation, failing: Conversation, working_file: str,
                        failing_file: str) -> CaptureDiff:
    good = _role_packets(working)
    bad = _role_packets(failing)
    initiator = failing.directions[0]
    pairs = []
    differing: set[str] = set()
    for key in sorted(set(good) & set(bad), key=lambda k: bad[k].frame):
        from_initiator, flags, occurrence = key
        a, b = good[key], bad[key]
        fields = tuple(FieldDiff(name, _field(a, name), _field(b, name)) for name in COMPARED_FIELDS
                       if _field(a, name) != _field(b, name))
        if not fields:
            continue
        differing.update(f.field for f in fields)
        pairs.append(PacketDiff("%s #%d %s -> %s" % (flags or PROTOCOL_NAMES.get(b.protocol, "packet"), occurrence,
                                                      b.src, b.dst),
                                a.frame, b.frame, fields))
    names = tuple(name for name in COMPARED_FIELDS if name in differing)
    words = []
    for pair in pairs:
        for diff in pair.fields:
            if diff.field == "ds_byte":
                words.append("%s: DS field 0x%02x in %s (frame %d) but 0x%02x (%s) in %s (frame %d)" % (
                    pair.packet, diff.working, working_file, pair.working_frame, diff.failing,
                    dsfield.describe_byte(diff.failing), failing_file, pair.failing_frame))
    text = "; ".join(words[:4]) or ("fields differing: %s" % ", ".join(names) if names else
                                    "no IP or TCP header field differs between corresponding packets")
    return CaptureDiff(working_file, failing_file, {"protocol": PROTOCOL_NAMES.get(initiator.protocol, str(initiator.protocol)),
                                                    "src": initiator.src, "dst": initiator.dst, "dport": initiator.dport},
                       failing.symptom, tuple(pairs), names, PER_CONNECTION_FIELDS, text)


def capture_diff(first: Capture, second: Capture) -> tuple[CaptureDiff, ...]:
    """The conversations two captures share (same initiator, responder and service port), one working and
    one failing in the other capture, with the IP and TCP header fields that differ between
    corresponding packets.  Which capture is the working one is read from the symptoms, per conversation.

    A capture holding several connections of one conversation pairs its first working one with the
    other capture's first failing one (and the other way round).
    """
    def index(capture: Capture) -> dict[tuple[t.Any, ...], list[Conversation]]:
        found: dict[tuple[t.Any, ...], list[Conversation]] = {}
        for conversation in conversations(capture):
            found.setdefault(_conversation_key(conversation), []).append(conversation)
        return found

    ones, twos = index(first), index(second)
    diffs = []
    for key in ones:
        if key not in twos:
            continue
        for working_side, failing_side, w_file, f_file in ((ones, twos, first.file, second.file),
                                                           (twos, ones, second.file, first.file)):
            working = next((c for c in working_side[key] if c.working), None)
            failing = next((c for c in failing_side[key] if not c.working), None)
            if working is not None and failing is not None:
                diffs.append(_diff_conversations(working, failing, w_file, f_file))
                break
    return tuple(diffs)

