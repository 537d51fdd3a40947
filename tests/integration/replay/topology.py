"""The founding incident's path, built from network namespaces (TEST-NET addresses only)::

    relay ns                  border ns                           partner-fw ns                        mail ns
    eth0 198.51.100.25/24 <-> inside 198.51.100.1  uplink 203.0.113.2/30 <-> eth0 203.0.113.1  eth1 203.0.113.17/28 <-> eth0 203.0.113.25/28

The addresses are the example inventory's (inventories/example, and the capture fixtures'
tests/fixtures/captures/make.py): border-rtr1's uplink GigabitEthernet0/0 is 203.0.113.2/30 with its
default route to 203.0.113.1 (here the partner firewall's eth0, standing for the Internet), our
mail relay sits in the range border-rtr1 routes inside (198.51.100.0/24), and the partner's mail
server is on the Internet (203.0.113.25).  So the partner's SYN/ACKs pass the uplink's anti-spoofing
list (access-list 110, which denies 198.51.100.0/24 and the private ranges as sources) and reach the
DSCP 1 null route, as in the story; a partner inside 198.51.100.0/24 would be dropped by 110 first.

* ``relay``: the client's external mail relay (it opens the SMTP connection).
* ``border``: the client's border router's data plane. The IOS router itself is not run here;
  ``drop_dscp1_on_uplink`` stands in for its Code-Red recipe (``access-list 106 permit ip any any
  dscp 1`` + ``route-map null_policy_route`` / ``set interface Null0`` applied with ``ip policy`` on
  the uplink) with one netfilter rule: ``-t mangle -A PREROUTING -i uplink -m dscp --dscp 1 -j DROP``.
* ``partner-fw``: the partner's Linux firewall; ``eth0`` faces the border (the founding dump's
  outside interface), ``eth1`` its mail server. It forwards; policies ACCEPT.
* ``mail``: the partner's mail server (``smtp.py serve`` on port 25, a process of its own).

Names are ``dsreplay-<pid>-<n>-<role>``; every interface lives inside a namespace (veths are created
in one namespace with the peer placed straight into the other), so deleting the four namespaces
removes every link. ``close()`` kills the processes it started and anything else left running in
the namespaces, then deletes them; it runs on ``with`` exit, at interpreter exit, and namespaces of
dead test processes are removed by the next ``IncidentTopology()``.

Captures are ``AF_PACKET`` sockets opened inside a namespace (by a thread that ``setns(2)``-ed into
it), so they see a frame on the wire before that host's netfilter does: a SYN/ACK the border drops
is still captured on its uplink. ``Capture.write_pcap`` saves what was seen (Ethernet, like the
incident's ``failed.pcap``).
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import os
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from tests.kernel.netns_lab import in_netns

from . import smtp

PREFIX = "dsreplay-"

RELAY_ADDR = "198.51.100.25"  # our mail relay, inside border-rtr1 (198.51.100.0/24)
BORDER_INSIDE_ADDR = "198.51.100.1"  # border-rtr1 GigabitEthernet0/1
BORDER_UPLINK_ADDR = "203.0.113.2"  # border-rtr1 GigabitEthernet0/0 (203.0.113.2/30)
PFW_OUTSIDE_ADDR = "203.0.113.1"  # partner firewall eth0: border-rtr1's default route (the Internet)
PFW_INSIDE_ADDR = "203.0.113.17"  # partner firewall eth1 (203.0.113.16/28)
MAIL_ADDR = "203.0.113.25"  # the partner's mail server
MAIL_NAME = "partner.example"

BORDER_UPLINK = "uplink"
BORDER_DROP_RULE = f"-t mangle -A PREROUTING -i {BORDER_UPLINK} -m dscp --dscp 1 -j DROP"
"""The stand-in for the IOS data plane's null route of DSCP 1 (see the module docstring)."""

_ETH_P_ALL = 0x0003
_PACKET_OUTGOING = 4
_SO_RCVBUFFORCE = 33
_SO_TIMESTAMPNS = 35
_libc = ctypes.CDLL(None, use_errno=True)
_SMTP_SCRIPT = Path(smtp.__file__).resolve()


class TopologyError(RuntimeError):
    """The topology could not be built, or a command inside it failed."""


def unavailable_reason() -> str | None:
    """None when the replay can run here, else why not (for ``pytest.skip``)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the incident replay needs root (network namespaces, iptables, AF_PACKET capture)"
    for tool in ("ip", "iptables", "iptables-restore", "iptables-save"):
        if shutil.which(tool) is None:
            return f"the incident replay needs {tool!r} on PATH"
    if not os.path.exists("/proc/self/ns/net") or not hasattr(_libc, "setns"):
        return "the incident replay needs network namespaces and setns(2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"'ip netns' does not work here: {probe.stderr.strip()}"
    return None


def _run(argv: Sequence[str], *, input_text: str | None = None, check: bool = True,
         timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), input=input_text, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise TopologyError(f"command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.strip()}")
    return proc


def _netns_pids(ns: str) -> list[int]:
    proc = _run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _delete_netns(ns: str) -> None:
    """Kill whatever still runs in ``ns``, then delete it (its interfaces go with it)."""
    for pid in _netns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _run(["ip", "netns", "delete", ns], check=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Delete ``<prefix><pid>-...`` namespaces (and their processes) whose test process is gone."""
    removed = []
    try:
        names = sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return removed
    for name in names:
        m = re.match(re.escape(prefix) + r"(\d+)-", name)
        if m and not _pid_alive(int(m.group(1))):
            _delete_netns(name)
            removed.append(name)
    return removed


# --------------------------------------------------------------------------- capture


@dataclasses.dataclass(frozen=True)
class Frame:
    time: float
    outgoing: bool  # sent by this host (True) or received on the wire (False)
    data: bytes  # the whole Ethernet frame

    @property
    def ip(self) -> bytes | None:
        if len(self.data) < 34 or self.data[12:14] != b"\x08\x00":
            return None
        return self.data[14:]

    @property
    def tcp(self) -> dict[str, Any] | None:
        """The IPv4/TCP fields a replay looks at, or None for anything else."""
        ip = self.ip
        if ip is None or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP:
            return None
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < ihl + 14:
            return None
        sport, dport = struct.unpack_from("!HH", ip, ihl)
        return {"tos": ip[1], "src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
                "sport": sport, "dport": dport, "flags": ip[ihl + 13]}


class Capture:
    """An AF_PACKET socket on one interface of one namespace; ``frames()`` drains it."""

    def __init__(self, ns: str, ifname: str) -> None:
        self.ns, self.ifname = ns, ifname
        self.sock: socket.socket = in_netns(ns, self._open)
        self.seen: list[Frame] = []

    def _open(self) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        try:
            s.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, 4 << 20)
        except OSError:
            pass
        s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        s.bind((self.ifname, _ETH_P_ALL))
        s.setblocking(False)
        return s

    def frames(self) -> list[Frame]:
        """Every frame captured since the last call (also appended to ``seen``)."""
        out = []
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(16))
            except BlockingIOError:
                break
            stamp = time.time()
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
                    sec, nsec = struct.unpack_from("qq", payload)
                    stamp = sec + nsec / 1e9
            out.append(Frame(stamp, addr[2] == _PACKET_OUTGOING, data))
        self.seen.extend(out)
        return out

    def drain(self) -> None:
        self.frames()

    def close(self) -> None:
        self.sock.close()

    @staticmethod
    def write_pcap(path: str | os.PathLike[str], frames: Sequence[Frame]) -> Path:
        """A classic libpcap file (LINKTYPE_ETHERNET), readable with ``tcpdump -r``."""
        out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)]  # nanosecond pcap
        for f in frames:
            sec = int(f.time)
            out.append(struct.pack("<IIII", sec, int((f.time - sec) * 1e9), len(f.data), len(f.data)) + f.data)
        Path(path).write_bytes(b"".join(out))
        return Path(path)


def syn_acks(frames: Sequence[Frame], *, src: str, sport: int, dst: str, dport: int,
             outgoing: bool | None = None) -> list[dict[str, Any]]:
    """The TCP SYN+ACK segments of one connection among ``frames`` (retransmissions included)."""
    found = []
    for f in frames:
        seg = f.tcp
        if seg is None or (outgoing is not None and f.outgoing != outgoing):
            continue
        if (seg["flags"] & 0x12) == 0x12 and seg["src"] == src and seg["sport"] == sport \
                and seg["dst"] == dst and seg["dport"] == dport:
            found.append(dict(seg, time=f.time))
    return found


# --------------------------------------------------------------------------- the topology


class IncidentTopology:
    """relay -> border -> partner firewall -> partner mail server; see the module docstring."""

    _counter = 0
    _lock = threading.Lock()

    def __init__(self, prefix: str = PREFIX) -> None:
        reason = unavailable_reason()
        if reason:
            raise TopologyError(reason)
        with IncidentTopology._lock:
            IncidentTopology._counter += 1
            n = IncidentTopology._counter
        base = f"{prefix}{os.getpid()}-{n}-"
        self.ns = {role: base + role for role in ("relay", "border", "pfw", "mail")}
        self._created: list[str] = []
        self._procs: list[subprocess.Popen[str]] = []
        self._captures: list[Capture] = []
        self._closed = False
        self.smtp_server: subprocess.Popen[str] | None = None

    # life cycle ----------------------------------------------------------

    def __enter__(self) -> "IncidentTopology":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> "IncidentTopology":
        cleanup_stale()
        atexit.register(self.close)
        try:
            self._build()
            self._start_smtp_server()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the processes, close the captures, delete the namespaces; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        for cap in self._captures:
            cap.close()
        for ns in reversed(self._created):
            _delete_netns(ns)
        self._created.clear()
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001
            pass

    def exec(self, role: str, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run a command as root inside one role's namespace."""
        return _run(["ip", "netns", "exec", self.ns[role], *argv], **kw)

    def _batch(self, role: str, lines: Sequence[str]) -> None:
        _run(["ip", "-n", self.ns[role], "-batch", "-"], input_text="\n".join(lines) + "\n")

    def _build(self) -> None:
        for role, ns in self.ns.items():
            if os.path.exists(f"/run/netns/{ns}"):  # a dead process that had our pid left it
                _delete_netns(ns)
            _run(["ip", "netns", "add", ns])
            self._created.append(ns)
            forward = "1" if role in ("border", "pfw") else "0"
            self.exec(role, ["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0",
                             "net.ipv4.conf.default.rp_filter=0", f"net.ipv4.ip_forward={forward}"])
            # IPv4 only: no IPv6 neighbour discovery chatter in the captures (absent without IPv6).
            self.exec(role, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                             "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        ns = self.ns
        _run(["ip", "-n", ns["border"], "link", "add", "inside", "type", "veth", "peer", "name", "eth0",
              "netns", ns["relay"]])
        _run(["ip", "-n", ns["border"], "link", "add", BORDER_UPLINK, "type", "veth", "peer", "name", "eth0",
              "netns", ns["pfw"]])
        _run(["ip", "-n", ns["pfw"], "link", "add", "eth1", "type", "veth", "peer", "name", "eth0",
              "netns", ns["mail"]])
        self._batch("relay", ["link set lo up", "link set eth0 up", f"addr add {RELAY_ADDR}/24 dev eth0",
                              f"route add default via {BORDER_INSIDE_ADDR} dev eth0"])
        self._batch("border", ["link set lo up", "link set inside up", f"link set {BORDER_UPLINK} up",
                               f"addr add {BORDER_INSIDE_ADDR}/24 dev inside",
                               f"addr add {BORDER_UPLINK_ADDR}/30 dev {BORDER_UPLINK}",
                               # border-router.cfg line 68: ip route 0.0.0.0 0.0.0.0 203.0.113.1
                               f"route add default via {PFW_OUTSIDE_ADDR} dev {BORDER_UPLINK}"])
        self._batch("pfw", ["link set lo up", "link set eth0 up", "link set eth1 up",
                            f"addr add {PFW_OUTSIDE_ADDR}/30 dev eth0", f"addr add {PFW_INSIDE_ADDR}/28 dev eth1",
                            f"route add 198.51.100.0/24 via {BORDER_UPLINK_ADDR} dev eth0"])
        self._batch("mail", ["link set lo up", "link set eth0 up", f"addr add {MAIL_ADDR}/28 dev eth0",
                             f"route add default via {PFW_INSIDE_ADDR} dev eth0"])

    def _start_smtp_server(self) -> None:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns["mail"], sys.executable, str(_SMTP_SCRIPT), "serve",
             "--host", MAIL_ADDR, "--port", "25", "--name", MAIL_NAME],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._procs.append(proc)
        self.smtp_server = proc
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("ready"):
            proc.kill()
            raise TopologyError(f"SMTP server did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}")  # type: ignore[union-attr]

    # the pieces of the story ---------------------------------------------

    def capture(self, role: str, ifname: str) -> Capture:
        cap = Capture(self.ns[role], ifname)
        self._captures.append(cap)
        return cap

    def iptables(self, role: str, rule: str) -> None:
        """``iptables <rule>`` (the system's backend) inside one role's namespace."""
        argv = shlex.split(rule)
        if argv and argv[0].startswith("iptables"):
            argv = argv[1:]
        self.exec(role, ["iptables", "-w", "5", *argv])

    def drop_dscp1_on_uplink(self) -> None:
        """The border's stand-in for the IOS Code-Red null route (``BORDER_DROP_RULE``)."""
        self.iptables("border", BORDER_DROP_RULE)

    def border_drops(self) -> int:
        """Packets the border's DSCP 1 rule has dropped so far (its iptables counter)."""
        out = self.exec("border", ["iptables-save", "-c", "-t", "mangle"]).stdout
        for line in out.splitlines():
            m = re.match(r"^\[(\d+):\d+\] -A PREROUTING -i " + BORDER_UPLINK + r" .*-m dscp --dscp 0x01 -j DROP", line)
            if m:
                return int(m.group(1))
        raise TopologyError(f"the border's DSCP 1 rule is not loaded:\n{out}")

    def load_partner_rules(self, text: str) -> None:
        """Replace the partner firewall's tables with an iptables-save dump (``iptables-restore``)."""
        self.exec("pfw", ["iptables-restore", "-w", "5"], input_text=text if text.endswith("\n") else text + "\n")

    def partner_rules(self) -> str:
        """What the partner firewall's kernel holds now, as ``iptables-save`` prints it."""
        return self.exec("pfw", ["iptables-save"]).stdout

    def smtp_exchange(self, timeout: float = 3.0) -> smtp.Exchange:
        """The relay opens TCP to the partner's port 25 and waits ``timeout`` s for the exchange."""
        return in_netns(self.ns["relay"], lambda: smtp.exchange(RELAY_ADDR, MAIL_ADDR, 25, timeout))


def append_partner_change(topology: IncidentTopology, change: str) -> None:
    """Append ``change`` after the partner firewall's rules, as a remediation would apply it.

    ``change`` is either iptables command lines, one rule a line (``-t mangle -A POSTROUTING -o
    eth0 -j DSCP --set-dscp 0``; a leading ``iptables`` word and ``#`` comments are allowed), or an
    ``iptables-restore`` fragment (``*mangle`` ... ``COMMIT``), loaded with ``--noflush`` so the
    founding rules stay and the fragment's ``-A`` lines land after them.
    """
    lines = [line.strip() for line in change.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines:
        raise ValueError("empty change")
    if any(line.startswith("*") for line in lines):
        topology.exec("pfw", ["iptables-restore", "-w", "5", "--noflush"], input_text="\n".join(lines) + "\n")
        return
    for line in lines:
        topology.iptables("pfw", line)
