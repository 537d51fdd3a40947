# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packet captures (pcap, pcapng) -> the core's typed packet records, on the controller.

Why dpkt and not scapy: the audit only *reads* headers (addresses, ports, TCP flags, sequence
numbers, the DS byte, TTL, IP id) of captures that can hold millions of frames; it never crafts,
sends or dissects application layers.  dpkt 1.9.8 is a small pure-Python package (no
dependencies, about 1 MB installed) that decodes a frame in a few microseconds; scapy builds a
full layered object per packet with every field dissected (one to two orders of magnitude
slower on a large capture), is about ten times larger, and imports a packet-crafting and
sending stack the controller has no use for.  Pinned in requirements.txt.

What is read:

* classic pcap (microsecond and nanosecond, either byte order) through `dpkt.pcap.Reader`;
* pcapng walked block by block here (section headers, interface descriptions with their own
  link type and timestamp resolution, enhanced, simple and obsolete packet blocks): dpkt
  1.9.8's pcapng reader keeps the *first* interface only, and a pcapng written on several
  interfaces (Wireshark on eth0 and any) mixes link types;
* link types Ethernet (with 802.1Q/802.1ad tags), Linux cooked SLL and SLL2 (`tcpdump -i any`;
  their packet type says whether the capturing host sent the frame), raw IP (101, and the
  12/14 some systems write, and IPv4/IPv6-only 228/229); IPv4 and IPv6 (extension headers
  skipped by dpkt); TCP and UDP ports; TCP flags, sequence and acknowledgement numbers,
  window and option kinds, as far as the snap length kept them.

A frame that is not IP (ARP, LLDP), or is cut short before its IP header ends, keeps its frame
number (Wireshark's numbering counts every frame) and is counted in `Capture.notes`, never
dropped in silence.  A file that is not a capture raises `CaptureError` naming the file.

>>> import io, struct
>>> header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
>>> read_capture_bytes(header, "empty.pcap").packets
()
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import functools
import io
import os
import socket
import struct
import typing as t

try:
    import dpkt
    HAS_DPKT = True
    DPKT_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - exercised only without dpkt
    HAS_DPKT = False
    DPKT_IMPORT_ERROR = import_error

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, quote
from ansible_collections.diffserv.audit.plugins.module_utils.observations import (
    ARRIVING, LEAVING, UNKNOWN, Capture, CaptureError, CaptureSource, Observed, PacketRecord, observe,
)

ETHERNET, RAW, LINUX_SLL, LINUX_SLL2, IPV4_ONLY, IPV6_ONLY = 1, 101, 113, 276, 228, 229
RAW_ALIASES = (12, 14)  # DLT_RAW as OpenBSD and BSD/OS numbered it; pcap files from there carry it
SUPPORTED_LINKTYPES = (ETHERNET, RAW, LINUX_SLL, LINUX_SLL2, IPV4_ONLY, IPV6_ONLY) + RAW_ALIASES
LINKTYPE_NAMES = {ETHERNET: "Ethernet", RAW: "raw IP", LINUX_SLL: "Linux cooked (SLL)", LINUX_SLL2: "Linux cooked v2 (SLL2)",
                  IPV4_ONLY: "raw IPv4", IPV6_ONLY: "raw IPv6", 12: "raw IP", 14: "raw IP"}

PCAPNG_SHB, PCAPNG_IDB, PCAPNG_PB, PCAPNG_SPB, PCAPNG_EPB = 0x0A0D0D0A, 1, 2, 3, 6
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
# Cooked-capture packet types (linux/if_packet.h): PACKET_OUTGOING is the host's own frame.
PACKET_OUTGOING = 4
# Ethernet frames with more than this many notes are summarised, not listed one by one.
NOTE_LIMIT = 20


def require_dpkt() -> None:
    """Fail with what to install when dpkt is missing (a controller requirement, requirements.txt)."""
    if not HAS_DPKT:
        raise DiffservError("reading packet captures needs the Python package dpkt 1.9.8 on the controller "
                            "(pip install 'dpkt==1.9.8'): %s" % DPKT_IMPORT_ERROR)


def read_capture(path: str, name: str | None = None) -> Capture:
    """Read one capture file; `name` is how findings call it (the path as the inventory gave it).

    The file is read as a stream, block by block: a capture of gigabytes costs its packet records,
    not its bytes.  Raises CaptureError (a DiffservError) naming the file when it cannot be opened
    or is not a pcap/pcapng capture; the caller reports that capture and carries on with the others.
    """
    require_dpkt()
    shown = name or path
    try:
        with open(path, "rb") as handle:
            return _read(handle, shown)
    except OSError as error:
        raise CaptureError(shown, "cannot read the capture: %s" % (error.strerror or error)) from None


def read_capture_bytes(data: bytes, name: str) -> Capture:
    """The same, from the file's bytes."""
    require_dpkt()
    return _read(io.BytesIO(data), name)


def _read(handle: t.BinaryIO, name: str) -> Capture:
    head = handle.read(4)
    handle.seek(0)
    if head == struct.pack(">I", PCAPNG_SHB):
        return _read_pcapng(handle, name)
    if head in PCAP_MAGICS:
        return _read_pcap(handle, name)
    what = "an empty file" if not head else "neither pcap nor pcapng (first bytes %s)" % head.hex()
    raise CaptureError(name, "not a packet capture: %s" % what)


class _Builder:
    """Frames -> packet records, counting what is not read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.packets: list[PacketRecord] = []
        self.frames = 0
        self.skipped: dict[str, list[int]] = {}
        self.notes: list[str] = []

    def frame(self, linktype: int, when: float, buf: bytes) -> None:
        self.frames += 1
        try:
            record, reason = _decode(self.frames, linktype, when, buf)
        except (dpkt.UnpackError, struct.error, ValueError, IndexError) as error:
            record, reason = None, "undecodable frame (%s)" % type(error).__name__
        if record is not None:
            self.packets.append(record)
        elif reason:
            self.skipped.setdefault(reason, []).append(self.frames)

    def capture(self, fmt: str, linktypes: t.Iterable[int]) -> Capture:
        notes = list(self.notes)
        for reason, frames in self.skipped.items():
            shown = ", ".join(str(f) for f in frames[:NOTE_LIMIT])
            more = " and %d more" % (len(frames) - NOTE_LIMIT) if len(frames) > NOTE_LIMIT else ""
            notes.append("%d frame(s) not read: %s (frames %s%s)" % (len(frames), reason, shown, more))
        return Capture(self.name, fmt, tuple(dict.fromkeys(linktypes)), tuple(self.packets), self.frames, tuple(notes))


def _read_pcap(handle: t.BinaryIO, name: str) -> Capture:
    try:
        reader = dpkt.pcap.Reader(handle)
    except (ValueError, dpkt.UnpackError) as error:
        raise CaptureError(name, "not a readable pcap file (%s)" % error) from None
    linktype = reader.datalink()
    if linktype not in SUPPORTED_LINKTYPES:
        raise CaptureError(name, "link type %d is not read (read: %s)" % (linktype, _supported()))
    builder = _Builder(name)
    try:
        for when, buf in reader:
            builder.frame(linktype, float(when), buf)
    except dpkt.UnpackError:
        # A record header cut short: tcpdump killed while writing.  What came before stands.
        builder.notes.append("the file is cut short after frame %d" % builder.frames)
    return builder.capture("pcap", (linktype,))


class _Interface(t.NamedTuple):
    linktype: int
    snaplen: int
    divisor: float
    offset: int


# A block longer than this is not a block of a capture someone saved (pcapng blocks hold one packet).
MAX_BLOCK = 1 << 28


def _read_pcapng(handle: t.BinaryIO, name: str) -> Capture:
    builder = _Builder(name)
    interfaces: list[_Interface] = []
    linktypes: list[int] = []
    order = "<"
    offset = 0
    while True:
        head = handle.read(8)
        if not head:
            break
        block_type = struct.unpack(">I", head[:4])[0] if len(head) == 8 else None
        rest = b""
        if block_type == PCAPNG_SHB:
            rest = handle.read(4)
            if rest == struct.pack("<I", PCAPNG_BYTE_ORDER):
                order = "<"
            elif rest == struct.pack(">I", PCAPNG_BYTE_ORDER):
                order = ">"
            else:
                raise CaptureError(name, "not a readable pcapng file: bad byte-order magic at offset %d" % offset)
            interfaces = []  # interface ids are per section
        elif block_type is not None:
            block_type = struct.unpack(order + "I", head[:4])[0]
        length = struct.unpack(order + "I", head[4:8])[0] if len(head) == 8 else 0
        if length < 12 or length % 4 or length > MAX_BLOCK:
            if offset == 0:
                raise CaptureError(name, "not a readable pcapng file: bad first block length %d" % length)
            builder.notes.append("the file is cut short after frame %d (offset %d)" % (builder.frames, offset))
            break
        rest += handle.read(length - 8 - len(rest))
        if len(rest) < length - 8:
            builder.notes.append("the file is cut short after frame %d (offset %d)" % (builder.frames, offset))
            break
        body = rest[:-4]
        offset += length
        if block_type == PCAPNG_IDB:
            linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
            divisor, time_offset = _idb_options(body[8:], order)
            interfaces.append(_Interface(linktype, snaplen, divisor, time_offset))
            linktypes.append(linktype)
        elif block_type in (PCAPNG_EPB, PCAPNG_PB, PCAPNG_SPB):
            if block_type == PCAPNG_EPB:
                iface, high, low, caplen, _orig = struct.unpack_from(order + "IIIII", body, 0)
                packet = body[20:20 + caplen]
            elif block_type == PCAPNG_PB:
                iface, _drops, high, low, caplen, _orig = struct.unpack_from(order + "HHIIII", body, 0)
                packet = body[20:20 + caplen]
            else:
                # A simple packet block: interface 0, no time; it holds min(original length, snap length).
                iface, high, low = 0, 0, 0
                original = struct.unpack_from(order + "I", body, 0)[0]
                snaplen = interfaces[0].snaplen if interfaces and interfaces[0].snaplen else original
                packet = body[4:4 + min(original, snaplen)]
            if iface >= len(interfaces):
                raise CaptureError(name, "not a readable pcapng file: a packet names interface %d, which no "
                                         "interface description block declares" % iface)
            described = interfaces[iface]
            when = described.offset + ((high << 32) | low) / described.divisor
            if described.linktype not in SUPPORTED_LINKTYPES:
                builder.frames += 1
                builder.skipped.setdefault("link type %d is not read" % described.linktype, []).append(builder.frames)
            else:
                builder.frame(described.linktype, when, packet)
    if not linktypes:
        raise CaptureError(name, "not a readable pcapng file: no interface description block")
    if all(linktype not in SUPPORTED_LINKTYPES for linktype in linktypes):
        raise CaptureError(name, "link type %s is not read (read: %s)" % (
            ", ".join(str(x) for x in sorted(set(linktypes))), _supported()))
    return builder.capture("pcapng", linktypes)


def _idb_options(options: bytes, order: str) -> tuple[float, int]:
    """if_tsresol (9) and if_tsoffset (14) of an interface description (pcapng draft section 4.2)."""
    divisor, offset = 1e6, 0
    position = 0
    while position + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, position)
        value = options[position + 4:position + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            resolution = value[0]
            divisor = float(2 ** (resolution & 0x7F)) if resolution & 0x80 else float(10 ** resolution)
        elif code == 14 and length >= 8:
            offset = struct.unpack(order + "q", value[:8])[0]
        position += 4 + ((length + 3) & ~3)
    return divisor, offset


def _supported() -> str:
    return ", ".join("%d (%s)" % (n, LINKTYPE_NAMES[n]) for n in SUPPORTED_LINKTYPES)


@functools.lru_cache(maxsize=4096)
def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _decode(frame: int, linktype: int, when: float, buf: bytes) -> tuple[PacketRecord | None, str | None]:
    """One frame -> its packet record, or None and why it is not one."""
    direction = UNKNOWN
    vlan: tuple[int, ...] = ()
    src_mac = None
    ip: t.Any
    if linktype == ETHERNET:
        eth = dpkt.ethernet.Ethernet(buf)
        vlan = tuple(tag.id for tag in getattr(eth, "vlan_tags", None) or ())
        src_mac = _mac(eth.src)
        ip = eth.data
        ethtype = eth.type
    elif linktype in (LINUX_SLL, LINUX_SLL2):
        cooked = dpkt.sll.SLL(buf) if linktype == LINUX_SLL else dpkt.sll2.SLL2(buf)
        direction = LEAVING if cooked.type == PACKET_OUTGOING else ARRIVING
        ip = cooked.data
        ethtype = cooked.ethtype
    else:
        version = buf[0] >> 4 if buf else 0
        if version == 4:
            ip, ethtype = dpkt.ip.IP(buf), 0x0800
        elif version == 6:
            ip, ethtype = dpkt.ip6.IP6(buf), 0x86DD
        else:
            return None, "raw frame without an IP version"
    if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
        if ethtype in (0x0800, 0x86DD):
            return None, "IP header cut short by the snap length or malformed"
        return None, "not IP (ethertype 0x%04x)" % ethtype
    return _record(frame, when, ip, vlan, direction, src_mac), None


@functools.lru_cache(maxsize=65536)
def _address4(raw: bytes) -> str:
    # One string per address, shared by every record that carries it.
    return socket.inet_ntop(socket.AF_INET, raw)


@functools.lru_cache(maxsize=65536)
def _address6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _record(frame: int, when: float, ip: t.Any, vlan: tuple[int, ...], direction: str,
            src_mac: str | None) -> PacketRecord:
    if isinstance(ip, dpkt.ip.IP):
        family, src, dst = 4, _address4(ip.src), _address4(ip.dst)
        ds_byte, ttl, ip_id, length, protocol = ip.tos, ip.ttl, ip.id, ip.len, ip.p
        dont_fragment: bool | None = bool(ip.df)
        l4_length = ip.len - ip.hl * 4
        fragment = ip.offset != 0
    else:
        family, src, dst = 6, _address6(ip.src), _address6(ip.dst)
        ds_byte, ttl, ip_id, length, protocol = ip.fc, ip.hlim, None, ip.plen + 40, ip.p
        dont_fragment = None
        extensions = sum(len(bytes(header)) for header in getattr(ip, "all_extension_headers", ()) or ())
        l4_length = ip.plen - extensions
        fragment = False
        fragment_header = (getattr(ip, "extension_hdrs", None) or {}).get(44)
        if fragment_header is not None:
            ip_id = fragment_header.id
            fragment = fragment_header.frag_off != 0
    fields: dict[str, t.Any] = {}
    l4 = ip.data
    if not fragment and isinstance(l4, dpkt.tcp.TCP) and protocol == 6:
        # dpkt decoded the whole header: read it as decoded (re-packing it to bytes costs more than the rest).
        header = l4.off * 4
        fields.update(sport=l4.sport, dport=l4.dport, seq=l4.seq, ack=l4.ack, tcp_flags=l4.flags, window=l4.win,
                      tcp_options=_option_kinds(l4.opts), payload=max(0, l4_length - header))
        return _build(frame, when, family, src, dst, protocol, ds_byte, ttl, ip_id, length, dont_fragment, vlan,
                      direction, src_mac, fields)
    if not fragment and isinstance(l4, dpkt.udp.UDP) and protocol == 17:
        fields.update(sport=l4.sport, dport=l4.dport, payload=max(0, l4_length - 8))
        return _build(frame, when, family, src, dst, protocol, ds_byte, ttl, ip_id, length, dont_fragment, vlan,
                      direction, src_mac, fields)
    # Cut by the snap length (or not TCP/UDP): what is left of the header, read by hand.
    payload = l4 if isinstance(l4, bytes) else bytes(l4)
    if not fragment and protocol in (6, 17) and len(payload) >= 4:
        fields["sport"], fields["dport"] = struct.unpack("!HH", payload[:4])
        if protocol == 6 and len(payload) >= 20:
            _s, _d, seq, ack, offset, flags, window = struct.unpack("!HHIIBBH", payload[:16])
            header = (offset >> 4) * 4
            fields.update(seq=seq, ack=ack, tcp_flags=flags, window=window,
                          tcp_options=_option_kinds(payload[20:header]), payload=max(0, l4_length - header))
        elif protocol == 17:
            fields["payload"] = max(0, l4_length - 8)
    return _build(frame, when, family, src, dst, protocol, ds_byte, ttl, ip_id, length, dont_fragment, vlan,
                  direction, src_mac, fields)


def _build(frame: int, when: float, family: int, src: str, dst: str, protocol: int, ds_byte: int, ttl: int,
           ip_id: int | None, length: int, dont_fragment: bool | None, vlan: tuple[int, ...], direction: str,
           src_mac: str | None, fields: dict[str, t.Any]) -> PacketRecord:
    return PacketRecord(frame=frame, time=when, family=family, src=src, dst=dst, protocol=protocol, ds_byte=ds_byte,
                        ttl=ttl, ip_id=ip_id, length=length, dont_fragment=dont_fragment, vlan=vlan,
                        direction=direction, src_mac=src_mac, **fields)


_KINDS: dict[tuple[int, ...], tuple[int, ...]] = {}


def _option_kinds(options: bytes) -> tuple[int, ...]:
    """TCP option kinds in order (MSS 2, window scale 3, SACK-permitted 4, timestamps 8), NOPs left out."""
    kinds = []
    position = 0
    while position < len(options):
        kind = options[position]
        if kind == 0:
            break
        if kind == 1:
            position += 1
            continue
        kinds.append(kind)
        if position + 1 >= len(options) or options[position + 1] < 2:
            break
        position += options[position + 1]
    found = tuple(kinds)
    # A handful of distinct option lists in a whole capture: one tuple each, shared by the records.
    return _KINDS.setdefault(found, found) if len(_KINDS) < 4096 else found


def read_captures(entries: t.Iterable[t.Mapping[str, t.Any]], base: str | None = None
                  ) -> tuple[list[tuple[t.Mapping[str, t.Any], Capture]], list[CaptureError]]:
    """`diffserv_captures` entries ({file, point}) -> (entry, capture) for each that reads, and the
    errors of the others (each names its file).  A relative `file` is taken from `base`."""
    read: list[tuple[t.Mapping[str, t.Any], Capture]] = []
    errors: list[CaptureError] = []
    for entry in entries:
        given = str(entry.get("file", ""))
        path = given if os.path.isabs(given) or base is None else os.path.join(base, given)
        try:
            read.append((entry, read_capture(path, given)))
        except CaptureError as error:
            errors.append(error)
    return read, errors


def capture_observations(entries: t.Iterable[t.Mapping[str, t.Any]], firewalls: t.Mapping[str, t.Any],
                         routers: t.Mapping[str, t.Any], links: t.Sequence[t.Any] | None, base: str | None = None,
                         everything: bool = False) -> tuple[Observed, list[dict[str, t.Any]]]:
    """`diffserv_captures` -> the core's observations on the loaded fleet, and one entry per capture that
    could not be used (`{"capture", "point", "reason"}`: a file that is not a capture, an entry without
    `point`), so the caller reports it for that capture and the rest still reports.

    firewalls/routers/links: `loader.load_fleet(...)`'s `Fleet.firewalls`, `.routers`, `.links`.
    """
    require_dpkt()
    pairs: list[tuple[CaptureSource, Capture]] = []
    problems: list[dict[str, t.Any]] = []
    for entry in entries:
        given = str(entry.get("file", ""))
        try:
            source = CaptureSource.from_mapping(entry)
            path = given if os.path.isabs(given) or base is None else os.path.join(base, given)
            pairs.append((source, read_capture(path, given)))
        except DiffservError as error:
            problems.append({"capture": quote(given), "point": quote(str(entry.get("point", ""))),
                             "reason": str(error)})
    return observe(pairs, firewalls, routers, links, everything), problems
