"""A tiny SMTP server and client, enough for the greeting, EHLO and QUIT of a real exchange.

The server runs as its own process inside the partner's mail-server namespace::

    ip netns exec NS python smtp.py serve --host 203.0.113.25 --port 25 --name partner.example

It prints ``ready <host> <port>`` once it listens, greets every connection with
``220 <name> ESMTP``, answers ``EHLO``/``HELO``/``NOOP``/``RSET``/``QUIT`` (anything else gets
``502``), and exits when its standard input closes, so it never outlives the test that started
it (even a killed one: the pipe closes with its parent).

The client side (``exchange``) is a plain function: it is called in a thread that has joined the
relay's namespace (see ``topology.in_netns``), so its socket lives there.

Standard library only: this file is also run as a script by a bare interpreter.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import sys
import threading
import time

GREETING_FMT = "220 {name} ESMTP"


# --------------------------------------------------------------------------- server


def _session(conn: socket.socket, name: str) -> None:
    try:
        conn.settimeout(30)
        conn.sendall((GREETING_FMT.format(name=name) + "\r\n").encode())
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").strip()
                verb, _sp, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    conn.sendall(f"250-{name} greets {arg or 'you'}\r\n250-8BITMIME\r\n250 HELP\r\n".encode())
                elif verb == "HELO":
                    conn.sendall(f"250 {name}\r\n".encode())
                elif verb in ("NOOP", "RSET"):
                    conn.sendall(b"250 2.0.0 OK\r\n")
                elif verb == "QUIT":
                    conn.sendall(f"221 2.0.0 {name} closing connection\r\n".encode())
                    return
                else:
                    conn.sendall(b"502 5.5.2 Command not recognized\r\n")
    except OSError:
        return
    finally:
        conn.close()


def serve(host: str, port: int, name: str) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)

    def watchdog() -> None:  # the parent closes our stdin (or dies): leave at once
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    print(f"ready {host} {port}", flush=True)
    while True:
        conn, _peer = listener.accept()
        threading.Thread(target=_session, args=(conn, name), daemon=True).start()


# --------------------------------------------------------------------------- client


@dataclasses.dataclass
class Exchange:
    """What the client saw. ``greeting`` is None when the server's banner never arrived."""

    local: tuple[str, int]
    greeting: str | None = None
    ehlo: list[str] = dataclasses.field(default_factory=list)
    quit: str | None = None
    error: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.greeting is not None and self.quit is not None and self.quit.startswith("221")


def _read_reply(sock: socket.socket, buf: bytearray, deadline: float) -> list[str]:
    """One SMTP reply (all its lines, up to the one with a space after the code)."""
    lines = []
    while True:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for a reply")
            sock.settimeout(left)
            data = sock.recv(4096)
            if not data:
                raise ConnectionError("connection closed by the server")
            buf += data
        raw, _nl, rest = bytes(buf).partition(b"\n")
        buf[:] = rest
        line = raw.decode("ascii", "replace").rstrip("\r")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def exchange(src: str, dst: str, port: int = 25, timeout: float = 3.0, helo: str = "relay.client.example") -> Exchange:
    """Connect from ``src`` (ephemeral port) to ``dst:port``, wait at most ``timeout`` seconds in
    all for the greeting and the replies to EHLO and QUIT. Never raises for network trouble: the
    result says how far it got."""
    start = time.monotonic()
    deadline = start + timeout
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((src, 0))  # an ephemeral port from net.ipv4.ip_local_port_range (>= 1024)
        result = Exchange(local=sock.getsockname())
        try:
            sock.settimeout(timeout)
            sock.connect((dst, port))
            buf = bytearray()
            result.greeting = _read_reply(sock, buf, deadline)[0]
            sock.sendall(f"EHLO {helo}\r\n".encode())
            result.ehlo = _read_reply(sock, buf, deadline)
            sock.sendall(b"QUIT\r\n")
            result.quit = _read_reply(sock, buf, deadline)[0]
        except (OSError, ConnectionError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        result.elapsed = time.monotonic() - start
        return result
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tiny SMTP server for the incident replay")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--name", default="partner.example")
    opts = parser.parse_args(argv)
    serve(opts.host, opts.port, opts.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
