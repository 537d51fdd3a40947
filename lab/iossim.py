"""A Cisco IOS router over SSH, for the diffserv.audit lab: netmiko's ``cisco_ios`` driver works
against it unmodified.

Built on paramiko's server API (``paramiko.ServerInterface`` + ``Transport``, one thread per
connection): paramiko is already a controller dependency (netmiko uses it), it is synchronous like
the rest of the lab, and a thread per session keeps the fault injection (sleep per line, go silent)
as plain blocking code. The configuration state lives in ``lab.iosconfig``.

What a session sees:
    * login with a password (or a public key from ``authorized_keys``); the ``banner motd``;
      ``hostname>`` (privilege 1, the default) or ``hostname#`` (privilege 15);
    * ``enable`` -> ``Password: `` -> ``hostname#``; three wrong secrets -> ``% Bad secrets``;
    * exec: ``show running-config [interface X] [| include|exclude|begin|section|count RE]``,
      ``show startup-config``, ``show version``, ``show ip access-lists`` / ``show access-lists``,
      ``show route-map``, ``show policy-map interface``, ``show ip interface [brief]`` (the counters
      of packets offered to the data plane, below), ``show privilege``, ``show history``, ``terminal length|width``,
      ``configure terminal``, ``write [memory]``, ``copy running-config startup-config`` (asks
      ``Destination filename [startup-config]?``), ``disable``, ``exit``; keyword abbreviations
      (``sh run``, ``conf t``, ``wr mem``); ``--More--`` paging until ``terminal length 0``;
    * configuration mode and its sub-modes as ``lab.iosconfig`` implements them, ``do <exec>``,
      ``exit``, ``end``, Ctrl-Z, multi-line ``banner motd``;
    * anything else: the caret line and ``% Invalid input detected at '^' marker.``
    * an SSH ``exec`` request (``ssh host 'show version'``) runs one command at the user's
      privilege level and closes.

The data plane: packets a test offers (``Device.offer`` in-process, or JSON lines appended to
``offers.jsonl`` beside the faults file with ``write_offers``, taken before every counter show
command) run through ``lab.iosconfig.forward``, the lab's own model of the router, which counts
them as IOS does; the four show commands print those counters in IOS's format.

Every command is appended to a JSON-lines log per device (see ``Device.log`` for the record
format). Faults (``Faults``) come from the spec and from a control file re-read whenever it
changes, so a test can switch them while the device runs.

Run one device as a daemon::

    python -m lab.iossim --spec state/routers/r1/spec.json --ready state/routers/r1/ready.json

or in-process (tests)::

    with IOSSimServer(Device(DeviceSpec(name="r1", config=text))) as srv:
        ConnectHandler(device_type="cisco_ios", host=srv.host, port=srv.port, ...)
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import datetime as _dt
import hmac
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import paramiko

from lab.iosconfig import Counters, IOSConfig, Node, Packet, expand_interface, forward, mode_of

__all__ = [
    "Faults",
    "DeviceSpec",
    "Device",
    "IOSSimServer",
    "generate_host_key",
    "read_log",
    "command_records",
    "is_config_command",
    "offers_path_for",
    "write_offers",
    "main",
]

_START = time.time()
# The server side of paramiko logs client resets as errors; the command log records sessions.
_SSH_LOG = "lab.iossim.ssh"
logging.getLogger(_SSH_LOG).addHandler(logging.NullHandler())
logging.getLogger(_SSH_LOG).propagate = False


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour on demand. Counters are per SSH session.

    reject_auth            every authentication attempt fails (wrong credentials, as seen by
                           the client), even with the right password
    delay_auth             seconds before answering an authentication attempt
    delay_per_command      seconds before the device answers each command
    delay_per_line         seconds after each output line the device sends
    silent_after_commands  after this many commands (non-empty lines) in a session the device
                           goes silent: no echo, no output, no prompt; the connection stays open
    silent_after_lines     after this many output lines (echoed lines, banner and prompts
                           included) in a session the device goes silent
    reject_commands        regular expressions (``re.search`` on the command line): a matching
                           command is answered with ``% Invalid input detected at '^' marker.``
                           in every mode, and not executed
    """

    reject_auth: bool = False
    delay_auth: float = 0.0
    delay_per_command: float = 0.0
    delay_per_line: float = 0.0
    silent_after_commands: int | None = None
    silent_after_lines: int | None = None
    reject_commands: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> "Faults":
        """Validate a mapping (JSON, YAML, kwargs) into Faults; unknown keys are an error."""
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        rc = data.get("reject_commands", ())
        if isinstance(rc, str):
            rc = (rc,)
        for rx in rc:
            re.compile(rx)
        kwargs: dict[str, Any] = {
            "reject_auth": bool(data.get("reject_auth", False)),
            "reject_commands": tuple(rc),
        }
        for name in ("delay_auth", "delay_per_command", "delay_per_line"):
            value = float(data.get(name) or 0.0)
            if value < 0:
                raise ValueError(f"{name} must be >= 0")
            kwargs[name] = value
        for name in ("silent_after_commands", "silent_after_lines"):
            value = data.get(name)
            kwargs[name] = None if value is None else int(value)
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["reject_commands"] = list(self.reject_commands)
        return data


# --------------------------------------------------------------------------- device


@dataclass(slots=True)
class DeviceSpec:
    """Everything that defines one simulated router (``spec.json`` of a daemon)."""

    name: str
    config: str = "hostname Router\n!\nend\n"
    username: str = "netops"
    password: str = "lab"
    enable_secret: str = "lab-enable"
    privilege: int = 1  # 1: log in at "host>" and need enable; 15: log in at "host#"
    log_path: str | None = None  # JSON lines, one record per command/event
    faults_path: str | None = None  # JSON control file, re-read when it changes
    # JSON lines of packets offered to the router's data plane (see `Device.offer`); default:
    # offers.jsonl beside the faults file. Read up to its end before every counter show command.
    offers_path: str | None = None
    running_path: str | None = None  # running-config written here after every change
    startup_path: str | None = None  # startup-config written here by write memory
    authorized_keys: tuple[str, ...] = ()  # "ssh-ed25519 AAAA... comment" lines
    faults: Faults = field(default_factory=Faults)
    host: str = "127.0.0.1"
    port: int = 0
    host_key_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["faults"] = self.faults.to_mapping()
        data["authorized_keys"] = list(self.authorized_keys)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "DeviceSpec":
        data = dict(data)
        data["faults"] = Faults.from_mapping(data.get("faults"))
        data["authorized_keys"] = tuple(data.get("authorized_keys") or ())
        return cls(**data)


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


class Device:
    """The shared state of one simulated router: configurations, faults, command log."""

    def __init__(self, spec: DeviceSpec) -> None:
        self.spec = spec
        self.lock = threading.RLock()
        self.running = IOSConfig(spec.config)
        self.startup_text = self.running.body()
        self._log_lock = threading.Lock()
        self._faults = spec.faults
        self._faults_stamp: tuple[int, int] | None = None
        self._session_counter = 0
        # The data plane's counters: packets offered by a test (`offer`, or the offers file) run
        # through lab.iosconfig.forward, which counts them as IOS does.
        self.counters = Counters()
        self._offers_read = 0
        if spec.faults_path and not os.path.exists(spec.faults_path):
            _atomic_write(spec.faults_path, json.dumps(spec.faults.to_mapping(), indent=1) + "\n")
        self._persist_running()
        self._persist_startup()

    # faults ---------------------------------------------------------------

    def faults(self) -> Faults:
        """The faults in force now (re-reads the control file when it changed)."""
        path = self.spec.faults_path
        if not path:
            return self._faults
        try:
            st = os.stat(path)
        except OSError:
            return self._faults
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._faults_stamp:
            try:
                with open(path, encoding="utf-8") as fh:
                    self._faults = Faults.from_mapping(json.load(fh))
                self._faults_stamp = stamp
            except (OSError, ValueError) as exc:
                self._faults_stamp = stamp
                self.log({"event": "faults-error", "error": str(exc)})
        return self._faults

    def set_faults(self, faults: Faults | Mapping[str, Any]) -> None:
        """Replace the faults (writes the control file when there is one)."""
        if not isinstance(faults, Faults):
            faults = Faults.from_mapping(faults)
        self._faults = faults
        if self.spec.faults_path:
            _atomic_write(self.spec.faults_path, json.dumps(faults.to_mapping(), indent=1) + "\n")
            self._faults_stamp = None

    # log ------------------------------------------------------------------

    def new_session_id(self) -> str:
        with self._log_lock:
            self._session_counter += 1
            return f"{self._session_counter}-{uuid.uuid4().hex[:8]}"

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to the command log.

        Every record: ``ts`` (epoch seconds), ``time`` (ISO 8601 UTC), ``device``, ``event``;
        session records add ``session``; ``event: "command"`` records add ``seq`` (1-based per
        session), ``mode`` (``user``, ``privileged``, ``config``, ``config-if``, ...; the mode
        the command was received in), ``prompt``, ``command`` (as typed, stripped; an enable
        secret is logged as ``<secret>``), ``status`` (ok | invalid | incomplete | ambiguous |
        refused | rejected | denied | silent) and, for exec commands, ``canonical`` (the command
        with its keywords expanded: ``sh run`` -> ``show running-config``).
        """
        if not self.spec.log_path:
            return
        now = time.time()
        full = {
            "ts": round(now, 6),
            "time": _dt.datetime.fromtimestamp(now, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            "device": self.spec.name,
        }
        full.update(record)
        line = json.dumps(full, sort_keys=False) + "\n"
        with self._log_lock:
            with open(self.spec.log_path, "a", encoding="utf-8") as fh:
                fh.write(line)

    # configuration --------------------------------------------------------

    def _persist_running(self) -> None:
        if self.spec.running_path:
            _atomic_write(self.spec.running_path, self.running.running_config())

    def _persist_startup(self) -> None:
        if self.spec.startup_path:
            _atomic_write(self.spec.startup_path, self.startup_text)

    def config_changed(self) -> None:
        self._persist_running()

    def write_memory(self) -> None:
        with self.lock:
            self.startup_text = self.running.body()
            self._persist_startup()

    # data plane -----------------------------------------------------------

    def offer(self, packets: Iterable[Mapping[str, Any] | Packet]) -> dict[str, int]:
        """Run packets through the router's own model (``lab.iosconfig.forward``) and count them.

        A packet is a ``Packet`` or a mapping of its fields (``protocol`` may be ``"tcp"``/``"udp"``;
        ``count`` repeats it).  Returns how many packets met each fate (forwarded, dropped,
        null-routed, policy-routed); the counters are what the show commands print."""
        fates: dict[str, int] = {}
        with self.lock:
            for given in packets:
                packet, times = _packet(given)
                fate = "refused"
                for _ in range(times):
                    try:
                        fate, _byte = forward(self.running, packet, self.counters)
                    except ValueError:
                        fate = "refused"
                    fates[fate] = fates.get(fate, 0) + 1
        self.log({"event": "offer", "fates": fates})
        return fates

    def offers_path(self) -> str | None:
        return self.spec.offers_path or (offers_path_for(os.path.dirname(self.spec.faults_path))
                                         if self.spec.faults_path else None)

    def take_offers(self) -> None:
        """Offer what was appended to the offers file since the last read (a daemon's test API)."""
        path = self.offers_path()
        if not path or not os.path.exists(path):
            return
        with self.lock:
            with open(path, encoding="utf-8") as fh:
                fh.seek(self._offers_read)
                data = fh.read()
            complete = data[:data.rfind("\n") + 1]
            self._offers_read += len(complete.encode("utf-8"))
            packets = [json.loads(line) for line in complete.splitlines() if line.strip()]
        if packets:
            self.offer(packets)

    def check_password(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username.encode(), self.spec.username.encode()) and hmac.compare_digest(
            password.encode(), self.spec.password.encode()
        )


_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58}


def _packet(given: Mapping[str, Any] | Packet) -> tuple[Packet, int]:
    if isinstance(given, Packet):
        return given, 1
    data = dict(given)
    times = int(data.pop("count", 1))
    if isinstance(data.get("protocol"), str):
        data["protocol"] = _PROTOCOLS[data["protocol"]]
    data.setdefault("family", 6 if ":" in str(data.get("src", "")) else 4)
    return Packet(**data), times


def offers_path_for(router_dir: str) -> str:
    """Where a daemon router reads offered packets: ``offers.jsonl`` in its directory."""
    return os.path.join(router_dir, "offers.jsonl")


def write_offers(path: str, packets: Iterable[Mapping[str, Any]]) -> None:
    """Append packets (mappings of ``Packet`` fields, ``count`` to repeat) for a running router to take."""
    with open(path, "a", encoding="utf-8") as fh:
        for packet in packets:
            fh.write(json.dumps(dict(packet)) + "\n")


# --------------------------------------------------------------------------- exec commands


class _Invalid(Exception):
    def __init__(self, col: int) -> None:
        super().__init__(col)
        self.col = col


class _Incomplete(Exception):
    pass


class _AmbiguousCmd(Exception):
    pass


_SHOW_PRIV = {
    "running-config": "show_run",
    "startup-config": "show_start",
    "version": "show_version",
    "ip": {"access-lists": "show_acl", "interface": {"": "show_ip_int", "brief": "show_ip_int_brief"}},
    "access-lists": "show_acl",
    "route-map": "show_route_map",
    "policy-map": {"interface": "show_pmap_int"},
    "privilege": "show_privilege",
    "clock": "show_clock",
    "history": "show_history",
}
_SHOW_USER = {k: _SHOW_PRIV[k] for k in ("version", "privilege", "clock", "history")}
_TERMINAL = {"length": "term_length", "width": "term_width", "monitor": "noop", "no": {"monitor": "noop"}}
_EXEC_PRIV: dict[str, Any] = {
    "show": _SHOW_PRIV,
    "configure": {"terminal": "configure"},
    "copy": {"running-config": {"startup-config": "copy_run_start"}},
    "write": {"": "write_mem", "memory": "write_mem", "terminal": "show_run"},
    "enable": "enable",
    "disable": "disable",
    "exit": "exit",
    "logout": "exit",
    "quit": "exit",
    "terminal": _TERMINAL,
}
_EXEC_USER: dict[str, Any] = {
    "show": _SHOW_USER,
    "enable": "enable",
    "exit": "exit",
    "logout": "exit",
    "quit": "exit",
    "terminal": _TERMINAL,
}
_PIPES = ("include", "exclude", "begin", "section", "count")


def _tokens(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", text)]


def _resolve(tree: Mapping[str, Any], tokens: list[tuple[int, str]]) -> tuple[str, int, list[str]]:
    """Walk the keyword tree: (handler name, index of the first argument, expanded keywords)."""
    node: Any = tree
    i = 0
    words: list[str] = []
    while isinstance(node, dict):
        if i == len(tokens):
            if "" in node:
                return node[""], i, words
            raise _Incomplete()
        col, word = tokens[i]
        keys = [k for k in node if k]
        lw = word.lower()
        if lw in keys:
            key = lw
        else:
            hits = [k for k in keys if k.startswith(lw)]
            if not hits:
                raise _Invalid(col)
            if len(hits) > 1:
                raise _AmbiguousCmd()
            key = hits[0]
        words.append(key)
        node = node[key]
        i += 1
    return node, i, words


def _section_blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith(" ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _apply_pipe(text: str, how: str, regex: str) -> str:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rx = re.compile(regex)
    if how == "include":
        kept = [l for l in lines if rx.search(l)]
    elif how == "exclude":
        kept = [l for l in lines if not rx.search(l)]
    elif how == "begin":
        idx = next((i for i, l in enumerate(lines) if rx.search(l)), len(lines))
        kept = lines[idx:]
    elif how == "section":
        kept = [l for b in _section_blocks(lines) if any(rx.search(x) for x in b) for l in b]
    else:  # count
        return f"Number of lines which match regexp = {sum(1 for l in lines if rx.search(l))}\n"
    return "".join(l + "\n" for l in kept)


# --------------------------------------------------------------------------- the CLI session


class CLISession:
    """One interactive (or exec) session: the IOS command-line state machine."""

    _MORE = " --More-- "
    _ERASE_MORE = "\b" * 10 + " " * 10 + "\b" * 10

    def __init__(self, device: Device, chan: Any, session_id: str, *, interactive: bool = True) -> None:
        self.d = device
        self.chan = chan
        self.sid = session_id
        self.interactive = interactive
        self.priv = 15 if device.spec.privilege >= 15 else 1
        self.path: tuple[Node, ...] | None = None  # None: exec mode; a tuple: configuration mode
        self.term_length = 24 if interactive else 0
        self.term_width = 80
        self.state = "normal"  # normal | enable-password | copy-confirm | banner | more
        self.seq = 0
        self.lines_sent = 0
        self.silent = False
        self.closed = False
        self.history: list[str] = []
        self._more_lines: list[str] = []
        self._banner: tuple[str, str, list[str]] | None = None
        self._enable_tries = 0

    # -- prompt and mode

    def prompt(self) -> str:
        host = self.d.running.hostname
        if self.path is not None:
            return f"{host}({mode_of(self.path)})#"
        return f"{host}#" if self.priv >= 15 else f"{host}>"

    def mode_name(self) -> str:
        if self.state == "enable-password":
            return "enable-password"
        if self.path is not None:
            return mode_of(self.path)
        return "privileged" if self.priv >= 15 else "user"

    # -- output

    def _go_silent(self, why: str) -> None:
        if not self.silent:
            self.silent = True
            self.d.log({"event": "silent", "session": self.sid, "reason": why})

    def _send(self, text: str) -> None:
        """Send text ("\\n" line ends), honouring the output faults."""
        if self.silent or not text or self.closed:
            return
        faults = self.d.faults()
        data = text.replace("\r\n", "\n").replace("\n", "\r\n")
        try:
            if faults.silent_after_lines is None and not faults.delay_per_line:
                self.chan.sendall(data.encode("utf-8"))
                self.lines_sent += data.count("\n")
                return
            for piece in re.split(r"(?<=\n)", data):
                if not piece:
                    continue
                if faults.silent_after_lines is not None and self.lines_sent >= faults.silent_after_lines:
                    self._go_silent("silent_after_lines")
                    return
                self.chan.sendall(piece.encode("utf-8"))
                if piece.endswith("\n"):
                    self.lines_sent += 1
                    if faults.delay_per_line:
                        time.sleep(faults.delay_per_line)
        except (OSError, EOFError, paramiko.SSHException):
            self.closed = True

    def _emit(self, text: str) -> None:
        """Send command output and the next prompt, paging it like IOS when the terminal pages."""
        if self.interactive and self.term_length > 0:
            lines = text.split("\n")
            page = self.term_length - 1
            if len(lines) > page + 1:
                self._send("\n".join(lines[:page]) + "\n" + self._MORE)
                self._more_lines = lines[page:]
                self.state = "more"
                return
        self._send(text + (self.prompt() if self.interactive else ""))

    def _more_key(self, ch: str) -> None:
        self._send(self._ERASE_MORE)
        if ch == " ":
            count = max(self.term_length - 1, 1)
        elif ch in "\r\n":
            count = 1
        else:
            self._more_lines = []
            self.state = "normal"
            self._send("\n" + self.prompt())
            return
        chunk, self._more_lines = self._more_lines[:count], self._more_lines[count:]
        rest = "\n".join(chunk)
        if len(self._more_lines) > 1 or (self._more_lines and self._more_lines[0]):
            self._send(rest + "\n" + self._MORE)
            return
        self.state = "normal"
        self._more_lines = []
        self._send(rest + "\n" + self.prompt() if rest else self.prompt())

    # -- logging

    def _log(self, command: str, mode: str, prompt: str, status: str, canonical: str | None = None) -> None:
        record: dict[str, Any] = {
            "event": "command",
            "session": self.sid,
            "seq": self.seq,
            "mode": mode,
            "prompt": prompt,
            "command": command,
            "status": status,
        }
        if canonical is not None:
            record["canonical"] = canonical
        self.d.log(record)

    # -- input loop

    def run(self) -> None:
        """Serve an interactive shell until the client leaves or types exit."""
        motd = self.d.running.banner("motd")
        self._send(("\n" + motd + "\n" if motd else "") + "\n" + self.prompt())
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        buf: list[str] = []
        echo: list[str] = []
        last_cr = False

        def flush() -> None:
            if echo:
                self._send("".join(echo))
                echo.clear()

        while not self.closed:
            try:
                data = self.chan.recv(4096)
            except socket.timeout:
                continue
            except (OSError, EOFError, paramiko.SSHException):
                break
            if not data:
                break
            for ch in decoder.decode(data):
                if self.closed:
                    break
                if self.state == "more":
                    flush()
                    if not self.silent:
                        self._more_key(ch)
                    continue
                if ch == "\n" and last_cr:
                    last_cr = False
                    continue
                last_cr = ch == "\r"
                if ch in "\r\n":
                    line = "".join(buf)
                    buf.clear()
                    if self.state != "enable-password":
                        echo.append("\n")
                    flush()
                    self._line(line)
                    continue
                if ch in "\x08\x7f":
                    if buf:
                        buf.pop()
                        echo.append("\b \b")
                    continue
                if ch in "\x1a\x03":  # Ctrl-Z / Ctrl-C: leave configuration mode
                    buf.clear()
                    flush()
                    if self.path is not None and self.state == "normal":
                        self.path = None
                        self._send("^Z\n" + self.prompt())
                    else:
                        self._send("\n" + self.prompt())
                    continue
                if ord(ch) < 32:
                    continue
                if not buf and self.state == "normal":
                    faults = self.d.faults()
                    if faults.silent_after_commands is not None and self.seq >= faults.silent_after_commands:
                        self._go_silent("silent_after_commands")
                buf.append(ch)
                if self.state != "enable-password":
                    echo.append(ch)
            flush()

    def run_exec(self, command: str) -> None:
        """Serve an SSH exec request: one command, no prompt, no paging."""
        self._line(command)

    # -- one line

    def _line(self, line: str) -> None:
        if self.state == "enable-password":
            self._enable_password(line)
            return
        if self.state == "copy-confirm":
            self._copy_confirm(line)
            return
        if self.state == "banner":
            self._banner_line(line)
            return
        cmd = line.strip()
        if not cmd:
            if self.interactive:
                self._send(self.prompt())
            return
        mode, prompt = self.mode_name(), self.prompt()
        self.seq += 1
        self.history.append(cmd)
        if self.silent:
            self._log(cmd, mode, prompt, "silent")
            return
        faults = self.d.faults()
        if faults.delay_per_command:
            time.sleep(faults.delay_per_command)
        lead = len(line) - len(line.lstrip())
        for rx in faults.reject_commands:
            m = re.search(rx, cmd)
            if m:
                self._log(cmd, mode, prompt, "rejected")
                self._emit(self._caret(prompt, lead + m.start()))
                return
        if self.path is None:
            out, status, canonical = self._exec(cmd, lead, prompt)
        else:
            out, status, canonical = self._config(cmd, lead, prompt)
        self._log(cmd, mode, prompt, status, canonical)
        if self.closed or self.state in ("enable-password", "copy-confirm", "banner"):
            self._send(out)
            return
        self._emit(out)

    def _caret(self, prompt: str, col: int) -> str:
        pad = (len(prompt) if self.interactive else 0) + col
        return " " * pad + "^\n% Invalid input detected at '^' marker.\n\n"

    # -- exec mode

    def _exec(self, cmd: str, lead: int, prompt: str) -> tuple[str, str, str | None]:
        tree = _EXEC_PRIV if self.priv >= 15 else _EXEC_USER
        pipe = None
        body = cmd
        m = re.match(r"^(.*?)\s*\|\s*(.*)$", cmd)
        if m:
            body = m.group(1)
            pipe_tokens = _tokens(m.group(2))
            pipe_col = cmd.index("|", len(body)) + 1
            if not pipe_tokens:
                return "% Incomplete command.\n\n", "incomplete", None
            how = [p for p in _PIPES if p.startswith(pipe_tokens[0][1].lower())]
            if len(how) != 1:
                col = lead + pipe_col + (m.group(2).find(pipe_tokens[0][1]) + 1 if pipe_tokens else 0)
                return self._caret(prompt, col), "invalid", None
            regex = m.group(2)[len(pipe_tokens[0][1]):].strip()
            if not regex:
                return "% Incomplete command.\n\n", "incomplete", None
            try:
                re.compile(regex)
            except re.error:
                return "% Invalid regular expression\n\n", "invalid", None
            pipe = (how[0], regex)
        tokens = _tokens(body)
        try:
            handler, i, words = _resolve(tree, tokens)
        except _Invalid as exc:
            return self._caret(prompt, lead + exc.col), "invalid", None
        except _Incomplete:
            return "% Incomplete command.\n\n", "incomplete", None
        except _AmbiguousCmd:
            return f'% Ambiguous command:  "{cmd}"\n', "ambiguous", None
        args = [t for _, t in tokens[i:]]
        canonical = " ".join(words + args)
        if pipe is not None:
            canonical += f" | {pipe[0]} {pipe[1]}"
            if not words or words[0] not in ("show", "write"):
                return self._caret(prompt, lead + cmd.index("|")), "invalid", canonical
        fn: Callable[[list[str], list[tuple[int, str]]], tuple[str, str]] = getattr(self, "_x_" + handler)
        try:
            out, status = fn(args, tokens[i:])
        except _Invalid as exc:
            return self._caret(prompt, lead + exc.col), "invalid", canonical
        except _Incomplete:
            return "% Incomplete command.\n\n", "incomplete", canonical
        if pipe is not None and status == "ok":
            out = _apply_pipe(out, *pipe)
        return out, status, canonical

    @staticmethod
    def _no_args(toks: list[tuple[int, str]]) -> None:
        if toks:
            raise _Invalid(toks[0][0])

    def _x_show_run(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        with self.d.lock:
            cfg = self.d.running
            if not args:
                return cfg.running_config(), "ok"
            if args[0].lower() in ("interface", "int") or "interface".startswith(args[0].lower()):
                if len(args) < 2:
                    raise _Incomplete()
                from lab.iosconfig import expand_interface

                name = expand_interface("".join(args[1:]))
                node = cfg.find_section(f"interface {name}")
                if node is None:
                    raise _Invalid(toks[1][0])
                lines = [node.text] + [" " + c.text for c in node.children]
                body = "!\n" + "\n".join(lines) + "\nend\n"
                return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n{body}", "ok"
            raise _Invalid(toks[0][0])

    def _x_show_start(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        text = self.d.startup_text
        if not text.strip():
            return "startup-config is not present\n", "ok"
        return f"Using {len(text)} out of 262136 bytes\n{text}", "ok"

    def _x_show_version(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        return _show_version(self.d), "ok"

    def _x_show_acl(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        # Cisco IOS Security Command Reference, "show access-lists": `Extended IP access list 106`,
        # then each entry with its sequence number and, once it has matched, `(N matches)`
        # (`(1 match)`); an entry that never matched prints no counter.
        self.d.take_offers()
        with self.d.lock:
            acls = self.d.running.access_lists()
            counted = dict(self.d.counters.ace)
        if args:
            acls = [a for a in acls if a[0] == args[0]]
            if len(toks) > 1:
                raise _Invalid(toks[1][0])
        out = []
        for name, standard, entries in acls:
            kind = "Standard" if standard else "Extended"
            label = f"access list {name}"
            out.append(f"{kind} IP {label}")
            for seq, text in entries:
                if text.startswith("remark "):
                    continue
                hits = counted.get((name, seq), 0)
                tail = "" if not hits else " (1 match)" if hits == 1 else f" ({hits} matches)"
                out.append(f"    {seq} {text}{tail}")
        return "".join(l + "\n" for l in out), "ok"

    def _x_show_route_map(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        # Cisco IOS IP Routing: Protocol-Independent Command Reference, "show route-map": per clause
        # `route-map NAME, permit, sequence 10`, `Match clauses:` (`ip address (access-lists): 106`),
        # `Set clauses:` (`interface Null0`), `Policy routing matches: N packets, M bytes`.
        self.d.take_offers()
        out = []
        with self.d.lock:
            counted = {key: list(row) for key, row in self.d.counters.route_map.items()}
            nodes = [n for n in self.d.running.root if n.text.split()[:1] == ["route-map"]]
        for node in nodes:
            words = node.text.split()
            if args and words[1] != args[0]:
                continue
            action = words[2] if len(words) > 2 else "permit"
            seq = int(words[3]) if len(words) > 3 else 10
            out.append(f"route-map {words[1]}, {action}, sequence {seq}")
            out.append("  Match clauses:")
            for child in node.children:
                w = child.text.split()
                if w[:1] != ["match"]:
                    continue
                if w[1:3] in (["ip", "address"], ["ipv6", "address"]):
                    out.append(f"    {w[1]} address (access-lists): {' '.join(w[3:])} ")
                else:
                    out.append(f"    {' '.join(w[1:])} ")
            out.append("  Set clauses:")
            out.extend(f"    {child.text.split(None, 1)[1]}" for child in node.children
                       if child.text.startswith("set ") and len(child.text.split()) > 1)
            packets, length = counted.get((words[1], seq), [0, 0])
            out.append(f"  Policy routing matches: {packets} packets, {length} bytes")
        return "".join(l + "\n" for l in out), "ok"

    def _x_show_pmap_int(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        # Cisco IOS Quality of Service Solutions Command Reference, "show policy-map interface":
        # ` GigabitEthernet0/0`, `Service-policy input: NAME`, then per class `Class-map: NAME
        # (match-any)`, `N packets, M bytes`, `5 minute offered rate ...`, each `Match:` line (with
        # its own `N packets, M bytes` / `5 minute rate` under a match-any class), `QoS Set` /
        # `dscp 1` / `Packets marked N`; class-default last.
        self.d.take_offers()
        with self.d.lock:
            cfg = self.d.running
            counters = self.d.counters
            interfaces = [(expand_interface(n.text.split(None, 1)[1]), [c.text for c in n.children]) for n in cfg.interfaces()]
            class_maps = {n.text.split()[-1]: ("match-any" in n.text.split(), [c.text for c in n.children])
                          for n in cfg.root if n.text.startswith("class-map ")}
            policies = {n.text.split()[-1]: [(c.text.split()[-1], [g.text for g in c.children]) for c in n.children
                                             if c.text.startswith("class ")]
                        for n in cfg.root if n.text.startswith("policy-map ")}
            classes = {k: list(v) for k, v in counters.classes.items()}
            matches = {k: list(v) for k, v in counters.matches.items()}
            marked = dict(counters.marked)
        wanted = expand_interface("".join(args)) if args else None
        out: list[str] = []
        for name, lines in interfaces:
            attached = [(w[1], w[2]) for w in (line.split() for line in lines)
                        if w[:1] == ["service-policy"] and len(w) == 3 and w[1] in ("input", "output")]
            if not attached or (wanted and name != wanted):
                continue
            out.append(f" {name} ")
            for direction, policy in attached:
                out += ["", f"  Service-policy {direction}: {policy}"]
                configured = policies.get(policy, [])
                implicit = [] if any(c == "class-default" for c, _a in configured) else [("class-default", [])]
                for cls, actions in configured + implicit:
                    key = (name, direction, policy, cls)
                    match_any, match_lines = class_maps.get(cls, (True, ["match any"]))
                    packets, length = classes.get(key, [0, 0])
                    out += ["", f"    Class-map: {cls} ({'match-any' if match_any else 'match-all'})  ",
                            f"      {packets} packets, {length} bytes",
                            "      5 minute offered rate 0000 bps, drop rate 0000 bps"]
                    for index, line in enumerate(match_lines):
                        if not line.startswith("match "):
                            continue
                        shown = line.split(None, 1)[1]
                        if cls == "class-default" or not match_any:
                            out.append(f"      Match: {shown} ")
                            continue
                        hits, hit_bytes = matches.get(key + (index,), [0, 0])
                        out += [f"      Match: {shown}", f"        {hits} packets, {hit_bytes} bytes",
                                "        5 minute rate 0 bps"]
                    sets = [a.split() for a in actions if a.startswith("set ")]
                    if sets:
                        out.append("      QoS Set")
                        for w in sets:
                            field, value = (w[2], w[3]) if w[1] == "ip" else (w[1], w[2])
                            out += [f"        {field} {value}",
                                    f"          Packets marked {marked.get(key + (f'{field} {value}',), 0)}"]
            out.append("")
        return "".join(l + "\n" for l in out), "ok"

    def _x_show_ip_int(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        # Cisco IOS IP Addressing Services Command Reference, "show ip interface": per interface
        # `NAME is up, line protocol is up`, its address, `Outgoing access list is ...`,
        # `Inbound  access list is ...` (two spaces, as IOS prints it), `Policy routing is enabled,
        # using route map NAME` / `Policy routing is disabled`; an interface without an address:
        # `Internet protocol processing disabled`.
        import ipaddress

        with self.d.lock:
            interfaces = [(expand_interface(n.text.split(None, 1)[1]), [c.text for c in n.children])
                          for n in self.d.running.interfaces()]
        wanted = expand_interface("".join(args)) if args else None
        out: list[str] = []
        for name, lines in interfaces:
            if wanted and name != wanted:
                continue
            down = "shutdown" in lines
            status = "administratively down, line protocol is down" if down else "up, line protocol is up"
            out.append(f"{name} is {status}")
            address = next((line.split()[2:4] for line in lines
                            if line.startswith("ip address ") and len(line.split()) >= 4), None)
            if address is None:
                out.append("  Internet protocol processing disabled")
                continue
            prefix = ipaddress.ip_network(f"0.0.0.0/{address[1]}").prefixlen
            acl_in = next((line.split()[2] for line in lines if line.startswith("ip access-group ") and line.endswith(" in")), None)
            acl_out = next((line.split()[2] for line in lines if line.startswith("ip access-group ") and line.endswith(" out")), None)
            route_map = next((line.split()[3] for line in lines if line.startswith("ip policy route-map ")), None)
            out += [f"  Internet address is {address[0]}/{prefix}", "  Broadcast address is 255.255.255.255",
                    "  Address determined by non-volatile memory", "  MTU is 1500 bytes",
                    "  Helper address is not set", "  Directed broadcast forwarding is disabled",
                    f"  Outgoing access list is {acl_out or 'not set'}",
                    f"  Inbound  access list is {acl_in or 'not set'}", "  Proxy ARP is enabled",
                    f"  Policy routing is enabled, using route map {route_map}" if route_map else "  Policy routing is disabled",
                    "  Network address translation is disabled"]
        return "".join(l + "\n" for l in out), "ok"

    def _x_show_ip_int_brief(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        rows = [f"{'Interface':<27}{'IP-Address':<16}{'OK?':<4}{'Method':<7}{'Status':<22}Protocol"]
        with self.d.lock:
            for node in self.d.running.interfaces():
                name = node.text.split(None, 1)[1]
                addr = next((c.text.split()[2] for c in node.children if c.text.startswith("ip address ") and len(c.text.split()) > 3), "unassigned")
                down = any(c.text == "shutdown" for c in node.children)
                status = "administratively down" if down else "up"
                proto = "down" if down else "up"
                method = "manual" if addr != "unassigned" else "NVRAM"
                rows.append(f"{name:<27}{addr:<16}{'YES':<4}{method:<7}{status:<22}{proto}")
        return "".join(r + "\n" for r in rows), "ok"

    def _x_show_privilege(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        return f"Current privilege level is {self.priv}\n", "ok"

    def _x_show_clock(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        now = _dt.datetime.now(_dt.timezone.utc)
        return now.strftime("*%H:%M:%S.") + f"{now.microsecond // 1000:03d}" + now.strftime(" UTC %a %b %d %Y\n"), "ok"

    def _x_show_history(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        return "".join(f"  {c}\n" for c in self.history[-10:]), "ok"

    def _x_configure(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        self.path = ()
        return "Enter configuration commands, one per line.  End with CNTL/Z.\n", "ok"

    def _x_write_mem(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        self.d.write_memory()
        return "Building configuration...\n[OK]\n", "ok"

    def _x_copy_run_start(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        if not self.interactive:
            self.d.write_memory()
            return "Building configuration...\n[OK]\n", "ok"
        self.state = "copy-confirm"
        return "Destination filename [startup-config]? ", "ok"

    def _copy_confirm(self, line: str) -> None:
        self.state = "normal"
        answer = line.strip()
        self.seq += 1
        if answer in ("", "startup-config"):
            self.d.write_memory()
            self._log(answer, "copy-confirm", "Destination filename [startup-config]? ", "ok")
            self._emit("Building configuration...\n[OK]\n")
        else:
            self._log(answer, "copy-confirm", "Destination filename [startup-config]? ", "invalid")
            self._emit("%Error opening nvram:" + answer + " (Invalid argument)\n")

    def _x_enable(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        if args and not (args[0].isdigit() and 0 <= int(args[0]) <= 15):
            raise _Invalid(toks[0][0])
        if self.priv >= 15:
            return "", "ok"
        if not self.interactive:
            return "% Password required, but none set\n", "denied"
        self.state = "enable-password"
        self._enable_tries = 0
        return "Password: ", "ok"

    def _enable_password(self, line: str) -> None:
        self.seq += 1
        ok = hmac.compare_digest(line.encode(), self.d.spec.enable_secret.encode())
        self._log("<secret>", "enable-password", "Password: ", "ok" if ok else "denied")
        if ok:
            self.state = "normal"
            self.priv = 15
            self._send("\n" + self.prompt())
            return
        self._enable_tries += 1
        if self._enable_tries < 3:
            self._send("\nPassword: ")
            return
        self.state = "normal"
        self._send("\n% Bad secrets\n\n" + self.prompt())

    def _x_disable(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self.priv = 1
        return "", "ok"

    def _x_exit(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        self._no_args(toks)
        self.closed = True
        return "", "ok"

    def _x_term_length(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        if not args:
            raise _Incomplete()
        if not args[0].isdigit() or int(args[0]) > 512 or len(args) > 1:
            raise _Invalid(toks[0 if not args[0].isdigit() or int(args[0]) > 512 else 1][0])
        self.term_length = int(args[0])
        return "", "ok"

    def _x_term_width(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        if not args:
            raise _Incomplete()
        if not args[0].isdigit() or not 0 <= int(args[0]) <= 512 or len(args) > 1:
            raise _Invalid(toks[0][0])
        self.term_width = int(args[0])
        return "", "ok"

    def _x_noop(self, args: list[str], toks: list[tuple[int, str]]) -> tuple[str, str]:
        return "", "ok"

    # -- configuration mode

    def _config(self, cmd: str, lead: int, prompt: str) -> tuple[str, str, str | None]:
        assert self.path is not None
        words = cmd.split()
        first = words[0].lower()
        if first == "do" and len(words) > 1:
            saved_path, self.path = self.path, None
            saved_priv, self.priv = self.priv, 15
            try:
                body = cmd[2:]
                offset = 2 + len(body) - len(body.lstrip())
                out, status, canonical = self._exec(body.strip(), lead + offset, prompt)
            finally:
                # "do configure terminal" / "do exit" must not change the configuration session.
                self.path, self.priv, self.closed = saved_path, saved_priv, False
                if self.state == "copy-confirm":
                    self.state = "normal"
            return out, status, "do " + (canonical or body.strip())
        if first == "end" and len(words) == 1:
            self.path = None
            return "", "ok", None
        if len(first) >= 2 and "exit".startswith(first) and len(words) == 1:
            self.path = self.path[:-1] if self.path else None
            return "", "ok", None
        m = re.match(r"banner\s+(\S+)\s+(\^C|\S)(.*)$", cmd)
        if m and m.group(2) not in m.group(3):
            kind, delim = m.group(1), m.group(2)
            self._banner = (kind, delim, [m.group(3)] if m.group(3) else [])
            self.state = "banner"
            return f"Enter TEXT message.  End with the character '{delim[0]}'.\n", "ok", None
        with self.d.lock:
            outcome = self.d.running.apply(self.path, cmd)
            if outcome.changed:
                self.d.config_changed()
        if outcome.status in ("ok", "refused", "incomplete", "ambiguous"):
            if outcome.status == "ok" or outcome.status == "refused":
                self.path = outcome.path
            return outcome.output, outcome.status, None
        return self._caret(prompt, lead + outcome.error_col), "invalid", None

    def _banner_line(self, line: str) -> None:
        assert self._banner is not None
        kind, delim, body = self._banner
        self.seq += 1
        self._log(line, "banner", "", "ok")
        if delim in line:
            body.append(line.split(delim)[0])
            text = "\n".join(body).strip("\n")
            with self.d.lock:
                self.d.running.set_banner(kind, text)
                self.d.config_changed()
            self._banner = None
            self.state = "normal"
            self._emit("")
            return
        body.append(line)


def _show_version(device: Device) -> str:
    up = int(time.time() - _START)
    days, rem = divmod(up, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    uptime = ", ".join(
        p for p in (f"{days} day{'s' * (days != 1)}" if days else "", f"{hours} hour{'s' * (hours != 1)}" if hours else "", f"{minutes} minute{'s' * (minutes != 1)}") if p
    )
    with device.lock:
        version_line = next((n.text for n in device.running.root if n.text.startswith("version ")), "version 15.7")
        nifs = len(device.running.interfaces())
    train = version_line.split()[1]
    release = {"12.3": "12.3(26)", "12.4": "12.4(24)T8", "15.1": "15.1(4)M12a"}.get(train, "15.7(3)M8")
    host = device.running.hostname
    return (
        f"Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version {release}, RELEASE SOFTWARE (fc2)\n"
        "Technical Support: http://www.cisco.com/techsupport\n"
        "Copyright (c) 1986-2021 by Cisco Systems, Inc.\n"
        "Compiled Thu 28-Jan-21 14:34 by prod_rel_team\n"
        "\n"
        "ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)\n"
        "\n"
        f"{host} uptime is {uptime}\n"
        "System returned to ROM by power-on\n"
        'System image file is "flash0:c2900-universalk9-mz.SPA.157-3.M8.bin"\n'
        "\n"
        "Cisco CISCO2911/K9 (revision 1.0) with 487424K/36864K bytes of memory.\n"
        "Processor board ID LAB00000001 (diffserv.audit lab simulator)\n"
        f"{nifs} interfaces in configuration\n"
        "255K bytes of non-volatile configuration memory.\n"
        "250880K bytes of ATA System CompactFlash 0 (Read/Write)\n"
        "\n"
        "Configuration register is 0x2102\n"
    )


# --------------------------------------------------------------------------- SSH server


class _ServerIface(paramiko.ServerInterface):
    def __init__(self, device: Device, session_id: str, peer: str) -> None:
        self.device = device
        self.sid = session_id
        self.peer = peer
        self.ready = threading.Event()
        self.exec_command: str | None = None
        self.username: str | None = None

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def _auth_result(self, username: str, method: str, ok: bool) -> int:
        faults = self.device.faults()
        if faults.delay_auth:
            time.sleep(faults.delay_auth)
        if faults.reject_auth:
            ok = False
        self.device.log(
            {"event": "auth", "session": self.sid, "user": username, "method": method, "ok": ok,
             **({"fault": "reject_auth"} if faults.reject_auth else {})}
        )
        if ok:
            self.username = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return self._auth_result(username, "password", self.device.check_password(username, password))

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        wanted = {line.split()[1] for line in self.device.spec.authorized_keys if len(line.split()) >= 2}
        ok = username == self.device.spec.username and key.get_base64() in wanted
        return self._auth_result(username, "publickey", ok)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, channel: Any, term: Any, width: int, height: int, pixelwidth: int, pixelheight: int, modes: Any) -> bool:
        return True

    def check_channel_window_change_request(self, channel: Any, width: int, height: int, pixelwidth: int, pixelheight: int) -> bool:
        return True

    def check_channel_shell_request(self, channel: Any) -> bool:
        self.ready.set()
        return True

    def check_channel_exec_request(self, channel: Any, command: bytes) -> bool:
        self.exec_command = command.decode("utf-8", "replace")
        self.ready.set()
        return True

    def check_channel_env_request(self, channel: Any, name: bytes, value: bytes) -> bool:
        return False


def generate_host_key(path: str) -> str:
    """Write a new Ed25519 private key (OpenSSH format, mode 0600); return its public key line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    line = public.decode() + "\n"
    with open(path + ".pub", "w", encoding="utf-8") as fh:
        fh.write(line)
    return line.strip()


class IOSSimServer:
    """Serve one Device over SSH on ``host:port`` (port 0: pick a free one), one thread a session."""

    def __init__(self, device: Device, host: str | None = None, port: int | None = None, host_key: paramiko.PKey | None = None) -> None:
        self.device = device
        self.host = host if host is not None else device.spec.host
        self._want_port = port if port is not None else device.spec.port
        if host_key is None:
            if device.spec.host_key_path and os.path.exists(device.spec.host_key_path):
                host_key = paramiko.Ed25519Key(filename=device.spec.host_key_path)
            else:
                host_key = paramiko.ECDSAKey.generate()
        self.host_key = host_key
        self.port = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()

    def start(self) -> "IOSSimServer":
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._want_port))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"iossim-{self.device.spec.name}", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> "IOSSimServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
        with self._lock:
            transports = list(self._transports)
        for t in transports:
            t.close()

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn: socket.socket, addr: tuple[Any, ...]) -> None:
        device = self.device
        sid = device.new_session_id()
        peer = f"{addr[0]}:{addr[1]}"
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(conn)
        transport.set_log_channel(_SSH_LOG)
        with self._lock:
            self._transports.add(transport)
        iface = _ServerIface(device, sid, peer)
        device.log({"event": "connect", "session": sid, "peer": peer})
        reason = "closed"
        try:
            transport.add_server_key(self.host_key)
            try:
                transport.start_server(server=iface)
            except (paramiko.SSHException, EOFError, OSError):
                reason = "ssh-negotiation-failed"
                return
            chan = transport.accept(timeout=30)
            if chan is None:
                reason = "no-channel"
                return
            if not iface.ready.wait(timeout=10):
                reason = "no-shell"
                return
            session = CLISession(device, chan, sid, interactive=iface.exec_command is None)
            if iface.exec_command is not None:
                device.log({"event": "exec", "session": sid, "user": iface.username})
                session.run_exec(iface.exec_command)
                try:
                    chan.send_exit_status(0)
                except (OSError, EOFError, paramiko.SSHException):
                    pass
            else:
                device.log({"event": "shell", "session": sid, "user": iface.username})
                session.run()
                if session.silent:
                    # Stay open and silent until the client gives up.
                    while transport.is_active() and not self._stopping.is_set():
                        try:
                            if chan.recv(4096) == b"":
                                break
                        except socket.timeout:
                            continue
                        except (OSError, EOFError, paramiko.SSHException):
                            break
            try:
                chan.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass
            # Let the client close first (as after OpenSSH's exit): closing the socket under
            # its feet makes paramiko print "Connection reset by peer".
            deadline = time.monotonic() + 1.0
            while transport.is_active() and time.monotonic() < deadline and not self._stopping.is_set():
                time.sleep(0.02)
        except Exception as exc:  # keep serving other sessions whatever one did
            reason = f"error: {exc!r}"
        finally:
            transport.close()
            with self._lock:
                self._transports.discard(transport)
            device.log({"event": "disconnect", "session": sid, "reason": reason})


# --------------------------------------------------------------------------- log helpers


def read_log(path: str) -> list[dict[str, Any]]:
    """All records of a device's command log (an absent log has none)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def command_records(records: Iterable[Mapping[str, Any]], session: str | None = None) -> list[Mapping[str, Any]]:
    """The ``event: command`` records, optionally of one session."""
    return [r for r in records if r.get("event") == "command" and (session is None or r.get("session") == session)]


_CONFIG_EXEC = re.compile(r"^(configure terminal|write( memory)?|copy running-config startup-config)\b")


def is_config_command(record: Mapping[str, Any]) -> bool:
    """True for a command that changes the device or enters configuration mode: anything typed in
    a configuration mode, ``configure terminal``, ``write memory``, ``copy run start``
    (``write terminal`` excepted: it is ``show running-config``)."""
    if record.get("event") != "command":
        return False
    mode = str(record.get("mode", ""))
    if mode.startswith("config") or mode in ("banner", "copy-confirm"):
        return True
    canonical = str(record.get("canonical") or "")
    return bool(_CONFIG_EXEC.match(canonical)) and not canonical.startswith("write terminal")


# --------------------------------------------------------------------------- daemon


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.iossim", description=__doc__.split("\n")[0])
    parser.add_argument("--spec", required=True, help="device spec (JSON, DeviceSpec fields)")
    parser.add_argument("--ready", help="write {pid, host, port, host_key} here once listening")
    opts = parser.parse_args(argv)
    with open(opts.spec, encoding="utf-8") as fh:
        spec = DeviceSpec.from_json(json.load(fh))
    device = Device(spec)
    server = IOSSimServer(device).start()
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    device.log({"event": "start", "pid": os.getpid(), "host": server.host, "port": server.port})
    if opts.ready:
        info = {
            "pid": os.getpid(),
            "host": server.host,
            "port": server.port,
            "host_key": f"{server.host_key.get_name()} {server.host_key.get_base64()}",
        }
        _atomic_write(opts.ready, json.dumps(info) + "\n")
    while not stop.wait(0.5):
        pass
    server.stop()
    device.log({"event": "stop", "pid": os.getpid()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
