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

import bisect
import dataclasses
import ipaddress
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, quote
from ansible_collections.diffserv.audit.plugins.module_utils.findings import Condition, Evidence, Marker, Treatment
from ansible_collections.diffserv.audit.plugins.module_utils.ios.trace import trace_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import Packet, Program, TraceResult, trace
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import (
    AddrCond, IfaceCond, Opaque, PortCond, ProtoCond, TosCond,
)

if t.TYPE_CHECKING:  # pragma: no cover - annotations only: analysis.py may import this module
    from ansible_collections.diffserv.audit.plugins.module_utils.analysis import FirewallInput, Link, RouterInput

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
    """Segments sent again: the same sequence number with the same SYN/FIN/data, seen before.

    A keep-alive (RFC 9293 section 3.8.4: zero or one byte at one below the next sequence number the
    sender has used) repeats by design and is not counted.
    """
    seen: set[tuple[int | None, int, int]] = set()
    again = []
    next_seq: int | None = None
    for packet in packets:
        if packet.tcp_flags is None or packet.has(RST) or packet.seq is None:
            continue
        length = packet.payload + (1 if packet.has(SYN) else 0) + (1 if packet.has(FIN) else 0)
        keepalive = (next_seq is not None and packet.payload <= 1 and not packet.tcp_flags & (SYN | FIN)
                     and packet.seq == (next_seq - 1) % 2 ** 32)
        end = (packet.seq + length) % 2 ** 32
        if next_seq is None or 0 < (end - next_seq) % 2 ** 32 < 2 ** 31:
            next_seq = end
        if length == 0 or keepalive:
            continue  # a pure ACK, a window probe or a keep-alive: not a retransmission
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
            return HANDSHAKE_INCOMPLETE, (
                "SYN/ACK(s) (frames %s) not acknowledged before the capture ends" % _frames(synacks))
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
        label = "%s #%d %s -> %s" % (flags or PROTOCOL_NAMES.get(b.protocol, "packet"), occurrence, b.src, b.dst)
        pairs.append(PacketDiff(label, a.frame, b.frame, fields))
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


# ---------------------------------------------------------------------------
# Observations: a capture's directions tied to the audited configuration


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureSource:
    """One `diffserv_captures` entry: the file as given and where it was taken (`host:interface`, the
    wire at that interface).  `mac`, optional, is that interface's MAC address: on Ethernet it says
    which frames the host sent (Linux cooked captures say it themselves)."""

    file: str
    point: str
    mac: str | None = None

    @property
    def host(self) -> str:
        return self.point.partition(":")[0]

    @property
    def interface(self) -> str:
        return self.point.partition(":")[2]

    @classmethod
    def from_mapping(cls, entry: t.Mapping[str, t.Any]) -> "CaptureSource":
        point = str(entry.get("point") or "")
        if not entry.get("file") or ":" not in point or not point.partition(":")[2]:
            raise DiffservError("diffserv_captures entry %s: needs `file` and `point` as host:interface"
                                % quote(str(dict(entry))))
        mac = entry.get("mac")
        return cls(str(entry["file"]), point, str(mac).lower() if mac else None)


FRAME_LIMIT = 200


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    """One direction of one conversation of one capture, as seen and as the configuration predicts it."""

    capture: str
    point: str
    flow: JSON
    ds_bytes: tuple[int, ...]
    frames: tuple[int, ...]
    symptom: str
    direction: str  # leaving / arriving the point's host, or unknown
    predicted_ds_bytes: tuple[int | None, ...]  # one per reading of the unknown input interface; None: not written
    marker: Marker | None
    treatment: Treatment | None
    contradiction: str | None
    text: str
    detail: str = ""
    assumptions: tuple[str, ...] = ()

    @property
    def predicted_ds_byte(self) -> int | None:
        return self.predicted_ds_bytes[0] if len(set(self.predicted_ds_bytes)) == 1 else None

    def as_dict(self) -> JSON:
        found: JSON = {"capture": self.capture, "point": self.point, "flow": dict(self.flow)}
        if len(self.ds_bytes) == 1:
            found["ds_byte"] = self.ds_bytes[0]
        else:
            found["ds_bytes"] = list(self.ds_bytes)
        found.update({
            # A long transfer is millions of frames: the first FRAME_LIMIT, and how many there are.
            "frames": list(self.frames[:FRAME_LIMIT]), "frame_count": len(self.frames),
            "symptom": self.symptom, "direction": self.direction,
            "predicted_ds_byte": self.predicted_ds_byte,
            "marker": self.marker.as_dict() if self.marker is not None else None,
            "treatment": self.treatment.as_dict() if self.treatment is not None else None,
            "contradiction": self.contradiction, "text": self.text, "detail": self.detail,
            "assumptions": list(self.assumptions)})
        if len(set(self.predicted_ds_bytes)) > 1:
            found["predicted_ds_bytes"] = list(self.predicted_ds_bytes)
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class Contradiction:
    """A capture that says the network did what the audited configuration says it cannot.

    One per capture, point, observed and predicted bytes and reason: a capture of a thousand
    connections taken with the rules off is one contradiction, `directions` 1000 (its first flow as
    the example, the first frames)."""

    capture: str
    point: str
    flow: JSON
    frames: tuple[int, ...]
    observed: tuple[int, ...]
    predicted: tuple[int | None, ...]
    text: str
    directions: int = 1

    def as_dict(self) -> JSON:
        return {"capture": self.capture, "point": self.point, "flow": dict(self.flow), "frames": list(self.frames),
                "observed": list(self.observed), "predicted": list(self.predicted), "text": self.text,
                "directions": self.directions}


CONTRADICTION_FRAMES = 20


def _contradictions(found: t.Iterable[Observation]) -> tuple[Contradiction, ...]:
    grouped: dict[tuple[t.Any, ...], Contradiction] = {}
    for o in found:
        if o.contradiction is None:
            continue
        key = (o.capture, o.point, o.ds_bytes, o.predicted_ds_bytes, o.contradiction)
        known = grouped.get(key)
        if known is None:
            grouped[key] = Contradiction(o.capture, o.point, o.flow, o.frames[:CONTRADICTION_FRAMES], o.ds_bytes,
                                         o.predicted_ds_bytes, o.contradiction)
        else:
            frames = tuple(sorted(known.frames + o.frames))[:CONTRADICTION_FRAMES]
            grouped[key] = dataclasses.replace(known, frames=frames, directions=known.directions + 1)
    return tuple(grouped.values())


@dataclasses.dataclass(frozen=True, slots=True)
class Observed:
    """What `observe` returns: the observations, the contradictions among them, the working/failing
    differences of captures taken at the same point, and what could not be tied (a point naming a
    host that is not audited, ...), each a sentence."""

    observations: tuple[Observation, ...]
    contradictions: tuple[Contradiction, ...]
    capture_diffs: tuple[CaptureDiff, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()  # how the captures were read: frames that are not IP, a file cut short

    def as_dict(self) -> JSON:
        return {"observations": [o.as_dict() for o in self.observations],
                "contradictions": [c.as_dict() for c in self.contradictions],
                "capture_diff": [d.as_dict() for d in self.capture_diffs], "problems": list(self.problems),
                "notes": list(self.notes)}


def _byte(value: int | None) -> str:
    return "not written (leaves as it arrived)" if value is None else "0x%02x" % value


class _Prediction(t.NamedTuple):
    predicted: tuple[int | None, ...]
    marker: Marker | None
    producible: bool | None  # can the firewall, as audited, send the observed byte(s) this way? None: undecided
    dropped_by: str | None
    assumptions: tuple[str, ...]


# Beyond this many rules, an observed byte the firewall does not write from 0x00 or from itself is not
# searched over all 256 arriving bytes (each is a trace of the whole dump): undecided, and said so.
SEARCH_RULE_LIMIT = 20000


def _packet(direction: Direction, tos: int, in_interface: str, out_interface: str) -> Packet:
    return Packet("forward", direction.protocol, tos, in_interface, out_interface, int(ipaddress.ip_address(direction.src)),
                  int(ipaddress.ip_address(direction.dst)), direction.sport, direction.dport)


class FirewallTracer:
    """Traces through one firewall, each remembered for the class of packets its rules cannot tell apart.

    The rules of a dump test addresses and ports against ranges: two packets whose every address and
    port falls between the same range boundaries meet the same rules, so a capture of ten thousand
    connections from ephemeral ports costs the traces of one.  A condition of another kind (an
    nftables set, say) makes the memo exact (keyed by the values themselves).
    """

    def __init__(self, firewall: FirewallInput) -> None:
        self.firewall = firewall
        self.program = Program(firewall.ruleset)
        cuts: dict[str, set[int]] = {"src": set(), "dst": set(), "sport": set(), "dport": set()}
        self.exact = False
        self.in_names: list[str] = []
        for table in firewall.ruleset.tables.values():
            for chain in table.chains:
                for rule in table.rules(chain):
                    for condition in getattr(rule, "conditions", ()):
                        if isinstance(condition, (AddrCond, PortCond)):
                            dims = ("sport", "dport") if condition.direction == "either" else (condition.direction,)
                            for dim in dims:
                                for low, high in condition.ranges:
                                    cuts[dim].update((low, high + 1))
                        elif isinstance(condition, IfaceCond):
                            if condition.direction == "in":
                                self.in_names.append(condition.name)
                        elif not isinstance(condition, (ProtoCond, TosCond, Opaque)):
                            self.exact = True
        self.cuts = {dim: sorted(values) for dim, values in cuts.items()}
        self.in_names = list(dict.fromkeys(self.in_names))
        self._memo: dict[tuple[t.Any, ...], TraceResult] = {}
        self.predictions: dict[tuple[t.Any, ...], _Prediction] = {}

    def shape(self, direction: Direction, egress: str) -> tuple[t.Any, ...]:
        """The class of packets this direction belongs to, as far as the rules can tell."""
        return (direction.protocol, self._atom("src", int(ipaddress.ip_address(direction.src))),
                self._atom("dst", int(ipaddress.ip_address(direction.dst))), self._atom("sport", direction.sport),
                self._atom("dport", direction.dport), egress)

    def readings(self, egress: str) -> list[str]:
        """Readings of the unknown input interface: each name an `-i` match uses, and "" (one no rule names)."""
        return [name for name in self.in_names if name != egress] + [""]

    def _atom(self, dim: str, value: int | None) -> int | None:
        if value is None or self.exact:
            return value
        return bisect.bisect_right(self.cuts[dim], value)

    def trace(self, direction: Direction, tos: int, in_interface: str, egress: str) -> TraceResult:
        packet = _packet(direction, tos, in_interface, egress)
        key = (direction.protocol, self._atom("src", packet.src), self._atom("dst", packet.dst),
               self._atom("sport", packet.sport), self._atom("dport", packet.dport), tos, in_interface, egress)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = trace(self.firewall.ruleset, packet, program=self.program)
        return found


def _marker(firewall: FirewallInput, result: TraceResult) -> Marker | None:
    writes = [step for step in result.steps if step.action == "write"]
    if not writes:
        return None
    last = writes[-1]
    return Marker(firewall.host, firewall.file, last.line, quote(last.rule, exact=True), last.chain, last.table,
                  tuple(step.line for step in writes), result.backend, result.era)


def firewall_prediction(tracer: FirewallTracer, egress: str, direction: Direction) -> _Prediction:
    """The byte the firewall, as audited, gives this direction's packets leaving by `egress` (forwarded,
    arriving unmarked), the rule that writes each observed byte, and whether the observed bytes are
    possible at all (from some arriving byte, by some input interface)."""
    key = tracer.shape(direction, egress) + (direction.ds_bytes,)
    remembered = tracer.predictions.get(key)
    if remembered is None:
        remembered = tracer.predictions[key] = _predict(tracer, egress, direction)
    return remembered


def _predict(tracer: FirewallTracer, egress: str, direction: Direction) -> _Prediction:
    firewall = tracer.firewall
    readings = tracer.readings(egress)
    assumptions = ["traced as forwarded by %s, leaving by %s, arriving with DS byte 0x00%s" % (
        firewall.host, egress, " (input interface read as each of: %s)" % ", ".join(repr(r) for r in readings)
        if len(readings) > 1 else "")]
    predicted: list[int | None] = []
    for reading in readings:
        result = tracer.trace(direction, 0, reading, egress)
        written = any(step.action == "write" for step in result.steps)
        predicted.append(result.tos if written and result.verdict != "drop" else None)
    marker: Marker | None = None
    producible: bool | None = True
    dropped_by = None
    search = firewall.ruleset.rule_count <= SEARCH_RULE_LIMIT
    for observed in direction.ds_bytes:
        found = False
        drops = []
        for arriving in [0, observed] + (list(range(256)) if search else []):
            for reading in readings:
                result = tracer.trace(direction, arriving, reading, egress)
                if result.verdict == "drop":
                    drops.append(result)
                    continue
                if result.tos == observed:
                    found = True
                    marker = marker or _marker(firewall, result)
                    break
            if found:
                break
        if not found:
            if drops and len(drops) >= len(readings) * 2:
                last = drops[0].steps[-1] if drops[0].steps else None
                dropped_by = "%s:%d" % (firewall.file, last.line) if last is not None else firewall.file
            producible = False if search else None
            if not search:
                assumptions.append("%s holds %d rules: only arriving bytes 0x00 and 0x%02x were tried" % (
                    firewall.host, firewall.ruleset.rule_count, observed))
    assumptions.extend(dict.fromkeys(tracer.trace(direction, 0, readings[0], egress).uncertain))
    return _Prediction(tuple(predicted), marker, producible, dropped_by, tuple(assumptions))


_TCP_LETTERS = ((SYN, "S"), (ACK, "A"), (RST, "R"), (FIN, "F"), (PSH, "P"), (URG, "U"))


def router_treatment(router: RouterInput, interface: str, direction: Direction, ds_byte: int) -> Treatment:
    """What `router` does with this direction's packets arriving on `interface` with `ds_byte`: one trace,
    marked and (inside the trace) unmarked, as the conflicts' treatment reads."""
    first = direction.packets[0] if direction.packets else None
    packet: JSON = {"in_interface": interface, "protocol": direction.protocol, "src": direction.src,
                    "dst": direction.dst, "sport": direction.sport, "dport": direction.dport, "tos": ds_byte}
    if first is not None and first.tcp_flags is not None:
        packet["tcp_flags"] = "".join(letter for bit, letter in _TCP_LETTERS if first.tcp_flags & bit)
    result = trace_ios(router.config, packet)
    lines = tuple(Evidence(step["file"], step["line"], quote(step["text"], exact=True), step.get("what"))
                  for step in result["steps"])
    may = tuple(Condition(c.get("file"), c.get("line"), quote(str(c.get("text", "")), exact=True),
                          quote(str(c.get("reason", "")), 400)) for c in result.get("may_match", []))
    unmarked = result["unmarked"]["fate"]
    summary = "%s with DS byte 0x%02x (unmarked: %s)" % (result["fate"], ds_byte, unmarked)
    return Treatment(router.host, router.file, interface, (result["out_interface"],) if result.get("out_interface") else (),
                     "in", result["fate"], summary, unmarked, result["tos_out"], may, bool(result.get("remarked_unknown")),
                     lines, True, packet)


def _worth(direction: Direction, contradiction: str | None) -> bool:
    return direction.symptom != OK or any(direction.ds_bytes) or contradiction is not None


def _direction_at(direction: Direction, source: CaptureSource) -> str:
    if direction.direction != UNKNOWN:
        return direction.direction
    if source.mac and direction.packets and direction.packets[0].src_mac:
        return LEAVING if direction.packets[0].src_mac == source.mac else ARRIVING
    return UNKNOWN


class _Fleet:
    """The audited fleet as observations read it, with the traces remembered across captures."""

    def __init__(self, firewalls: t.Mapping[str, FirewallInput], routers: t.Mapping[str, RouterInput],
                 links: t.Sequence[Link] | None, everything: bool) -> None:
        self.firewalls, self.routers, self.links, self.everything = firewalls, routers, links, everything
        self._tracers: dict[str, FirewallTracer] = {}
        self._treatments: dict[tuple[t.Any, ...], Treatment] = {}

    def tracer(self, firewall: FirewallInput) -> FirewallTracer:
        found = self._tracers.get(firewall.host)
        if found is None or found.firewall is not firewall:
            found = self._tracers[firewall.host] = FirewallTracer(firewall)
        return found

    def treatment(self, router: RouterInput, interface: str, direction: Direction, ds_byte: int) -> Treatment:
        first = direction.packets[0].tcp_flags if direction.packets else None
        key = (router.host, interface, direction.protocol, direction.src, direction.dst, direction.sport,
               direction.dport, ds_byte, first)
        found = self._treatments.get(key)
        if found is None:
            found = self._treatments[key] = router_treatment(router, interface, direction, ds_byte)
        return found


def _observe_direction(source: CaptureSource, direction: Direction, fleet: _Fleet,
                       inferred: str | None = None) -> Observation:
    firewalls, routers, links = fleet.firewalls, fleet.routers, fleet.links
    host, interface = source.host, source.interface
    way = inferred or _direction_at(direction, source)
    assumptions: list[str] = []
    if inferred:
        assumptions.append(
            "which way these packets crossed %s is inferred: the capture does not say, and of the two directions "
            "only the other one could have left %s as audited (the reading without a contradiction)"
            % (source.point, _sender_of(source, firewalls, routers, links)) if (inferred == ARRIVING) == (host in firewalls)
            else "which way these packets crossed %s is inferred: the capture does not say, and only this direction "
                 "is consistent with the audited firewall" % source.point)
    prediction: _Prediction | None = None
    treatment: Treatment | None = None
    firewall: FirewallInput | None = None
    egress = ""
    router: RouterInput | None = None
    router_iface = ""
    if host in firewalls:
        if way != ARRIVING:
            firewall, egress = firewalls[host], interface
            linked = [link for link in links or () if link.firewall == host and link.egress in (interface, None)
                      and not link.assumed]
            if linked:
                router, router_iface = routers.get(linked[0].router), linked[0].interface
            elif links is None:
                assumptions.append("no diffserv_links: which router %s reaches is not known" % source.point)
    elif host in routers:
        if way != LEAVING:
            router, router_iface = routers[host], interface
            linked = [link for link in links or () if link.router == host and link.interface == interface
                      and link.egress and not link.assumed]
            if linked:
                firewall, egress = firewalls.get(linked[0].firewall), str(linked[0].egress)
            elif links is None:
                assumptions.append("no diffserv_links: which firewall sends to %s is not known" % source.point)
    if way == UNKNOWN:
        assumptions.append("the capture does not say which way these packets crossed %s (give the point's `mac`, "
                           "or capture with -i any): traced as %s" % (
                               source.point, "leaving it" if host in firewalls else "arriving there"))
    if direction.family != 4:
        assumptions.append("IPv6: the audited configurations are joined for IPv4 today; not traced")
        firewall = router = None
    if firewall is not None:
        prediction = firewall_prediction(fleet.tracer(firewall), egress, direction)
        assumptions.extend(prediction.assumptions)
    contradiction = None
    if prediction is not None and prediction.producible is False:
        seen = ", ".join("0x%02x" % b for b in direction.ds_bytes)
        if prediction.dropped_by:
            contradiction = ("%s shows these packets with DS byte %s, but %s as audited drops them (%s)"
                             % (source.file, seen, firewall.host if firewall else "", prediction.dropped_by))
        else:
            contradiction = ("%s shows DS byte %s, but %s as audited sends these packets by %s with %s: the "
                             "capture was taken under another configuration, or the path is not the one linked"
                             % (source.file, seen, firewall.host if firewall else "", egress,
                                " or ".join(_byte(p) for p in dict.fromkeys(prediction.predicted))))
        if way == UNKNOWN:
            contradiction += (" (the capture does not say which way these packets went; the other direction "
                              "contradicts the audited firewall too, so whichever left it does)")
    byte = next((b for b in direction.ds_bytes if b), direction.ds_bytes[0])
    # The router is traced only for what is reported: a capture of ten thousand healthy connections
    # costs no router trace.
    if router is not None and (fleet.everything or _worth(direction, contradiction)):
        try:
            treatment = fleet.treatment(router, router_iface, direction, byte)
        except DiffservError as error:
            assumptions.append("%s %s: not traced: %s" % (router.host, router_iface, quote(str(error), 400)))
    text = _observation_text(source, direction, prediction, treatment)
    return Observation(source.file, source.point, direction.flow, direction.ds_bytes, direction.frames,
                       direction.symptom, way, prediction.predicted if prediction is not None else (),
                       prediction.marker if prediction is not None else None, treatment, contradiction, text,
                       direction.detail, tuple(dict.fromkeys(assumptions)))


def _observation_text(source: CaptureSource, direction: Direction, prediction: _Prediction | None,
                      treatment: Treatment | None) -> str:
    first = direction.packets[0] if direction.packets else None
    kind = {"SYN,ACK": "SYN/ACKs", "SYN": "SYNs"}.get(first.flags if first else "", "packets")
    seen = ", ".join("0x%02x" % b for b in direction.ds_bytes)
    words = ["%s %s:%s -> %s:%s at %s carry DS byte %s (%s)" % (
        kind, direction.src, direction.sport, direction.dst, direction.dport, source.point, seen,
        _frames_words(direction.frames))]
    if prediction is not None and prediction.marker is not None:
        words.append("written by %s:%d" % (prediction.marker.file, prediction.marker.line))
    if treatment is not None and treatment.action != treatment.unmarked_action:
        words.append("%s %s: %s" % (treatment.host, treatment.interface, treatment.action))
    if direction.symptom != OK:
        words.append(direction.symptom)
    return "; ".join(words)


def _frames_words(frames: tuple[int, ...]) -> str:
    shown = ", ".join(str(f) for f in frames[:6])
    return "frame%s %s%s" % ("s" if len(frames) > 1 else "", shown, " and %d more" % (len(frames) - 6) if len(frames) > 6 else "")


def _sender_of(source: CaptureSource, firewalls: t.Mapping[str, FirewallInput], routers: t.Mapping[str, RouterInput],
               links: t.Sequence[Link] | None) -> str:
    if source.host in firewalls:
        return source.host
    linked = [link.firewall for link in links or () if link.router == source.host and link.interface == source.interface]
    return linked[0] if linked else "the firewall"


def _observe_conversation(source: CaptureSource, conversation: Conversation, fleet: _Fleet) -> list[Observation]:
    """Both directions; where the capture does not say which way each crossed the point, the two readings.

    Of a conversation's two directions at one point, exactly one left the point's host and the other
    arrived.  Both traced as the firewall's outgoing packets: if both contradict the audited firewall,
    whichever left does (a contradiction either way); if exactly one does, the reading where the other
    one left holds without contradiction, and is taken, saying so; if neither does, both stay unknown.
    """
    observed = [_observe_direction(source, d, fleet) for d in conversation.directions]
    if len(observed) != 2 or any(o.direction != UNKNOWN or not o.predicted_ds_bytes for o in observed):
        return observed
    contradicting = [o.contradiction is not None for o in observed]
    if contradicting.count(True) != 1:
        return observed
    at_firewall = source.host in fleet.firewalls
    # The consistent direction left the firewall: at a firewall point it is leaving, at a router point arriving.
    from_firewall, to_firewall = (LEAVING, ARRIVING) if at_firewall else (ARRIVING, LEAVING)
    return [_observe_direction(source, d, fleet, to_firewall if bad else from_firewall)
            for d, bad in zip(conversation.directions, contradicting)]


def observe(captures: t.Sequence[tuple[CaptureSource, Capture]], firewalls: t.Mapping[str, FirewallInput],
            routers: t.Mapping[str, RouterInput], links: t.Sequence[Link] | None, everything: bool = False) -> Observed:
    """Each capture's conversation directions worth reporting (a symptom, a non-zero DS byte, or a
    contradiction; `everything` for all), tied to the audited fleet, with the working/failing
    differences of captures taken at the same point.

    A point at a firewall: its directions are traced through that firewall leaving by the point's
    interface (the marker, the predicted byte) and through the router `links` joins to that egress
    (the treatment).  A point at a router: through that router arriving on the interface, and
    through the firewall linked to it.  Directions the link layer says arrived at a firewall point
    (or left a router point) are reported as seen, not traced.  One capture's trouble (a host that is
    not audited, a trace that fails) is a sentence under `problems`; the rest is reported.

    `captures` pairs each `diffserv_captures` entry (`CaptureSource.from_mapping(entry)`) with its
    capture as read (`plugin_utils/captures.read_capture(path, entry["file"])`); `firewalls`,
    `routers` and `links` are the loaded fleet's (`loader.load_fleet`): `links` None means no
    `diffserv_links` were given, and then no router or firewall is joined to a point.
    """
    fleet = _Fleet(firewalls, routers, links, everything)
    found: list[Observation] = []
    problems: list[str] = []
    notes: list[str] = []
    for source, capture in captures:
        if source.host not in firewalls and source.host not in routers:
            problems.append("%s: point %s: %s is not an audited host; its directions are reported as seen"
                            % (quote(source.file), quote(source.point), quote(source.host)))
        notes.extend("%s: %s" % (quote(source.file), note) for note in capture.notes)
        others = [p.frame for p in capture.packets if p.protocol not in (TCP, UDP) or p.sport is None]
        if others:
            shown = _frames_words(tuple(others)).partition(" ")[2]
            notes.append("%s: %d IP packet(s) neither TCP nor UDP with ports (ICMP, fragments, ...) are not grouped "
                         "into conversations (frames %s)" % (quote(source.file), len(others), shown))
        for conversation in conversations(capture):
            try:
                observed = _observe_conversation(source, conversation, fleet)
            except DiffservError as error:
                problems.append("%s: %s: %s" % (quote(source.file), _frames_words(conversation.directions[0].frames),
                                                quote(str(error), 400)))
                continue
            for direction, observation in zip(conversation.directions, observed):
                if everything or _worth(direction, observation.contradiction):
                    found.append(observation)
    contradictions = _contradictions(found)
    diffs: list[CaptureDiff] = []
    for index, (source, capture) in enumerate(captures):
        for other_source, other in captures[index + 1:]:
            if other_source.point == source.point:
                diffs.extend(capture_diff(capture, other))
    return Observed(tuple(found), contradictions, tuple(diffs), tuple(problems), tuple(notes))
