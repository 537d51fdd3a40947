"""Linux firewall hosts for the lab: real sshd, sudo and iptables, one network namespace each.

Per firewall (``create_firewall``):
    * network namespace ``dsfw-<lab>-<i>`` with ``lo``, ``eth0`` (one end of a veth pair whose
      other end, ``dsfw<lab><i>``, stays in the root namespace) and ``eth1`` (a dummy, or a veth
      pair inside the namespace where the kernel has no dummy driver);
    * a /30 out of 198.18.0.0/15 (RFC 2544 benchmark range) on the veth: ``.1`` in the root
      namespace, ``.2`` on the firewall's ``eth0``; ``eth1`` has 192.0.2.1/24 inside the
      namespace only;
    * iptables rules loaded from a dump with ``iptables-restore`` of the chosen backend inside the
      namespace (netfilter state is per namespace, so every firewall has its own tables);
    * a throwaway user ``dsfw<lab><i>`` with a random password and the lab's public key, and
      ``/etc/sudoers.d/dsfw-<lab>-<i>`` granting it iptables-save / ip6tables-save /
      iptables-restore (and their -legacy/-nft variants, ``nft list ruleset``), NOPASSWD or with
      its password; or, with ``sudo_all``, every command (Ansible's ``become`` wraps the command
      in ``/bin/sh -c``, which the narrow rule does not allow);
    * ``sshd -D`` started inside the namespace with a generated config and a throwaway Ed25519
      host key (``UsePAM no``: plain shadow passwords, no logind in the way), listening on the
      firewall's ``eth0`` address, port 22. An SSH session's shell, and the ``sudo iptables-save``
      it runs, live in the namespace, so they see that firewall's rules.

Everything made is reported through ``record(resource)`` before or as it is made, so a crash half
way leaves a manifest entry that ``lab.launcher`` can undo (``remove_resource``).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Mapping

from lab.iossim import generate_host_key

__all__ = [
    "NS_PREFIX",
    "LINK_NET",
    "FirewallSpec",
    "Firewall",
    "create_firewall",
    "firewall_unavailable_reason",
    "remove_resource",
    "global_lock",
    "pid_start_time",
    "kill_pid",
    "netns_exec",
]

NS_PREFIX = "dsfw-"
"""Namespaces are ``dsfw-<lab id>-<index>``; root-side veths and users ``dsfw<lab id><index>``."""
LINK_NET = ipaddress.ip_network("198.18.0.0/15")
LOCK_PATH = "/run/lock/diffserv-lab.lock"
SSHD = "/usr/sbin/sshd"
_SUDO_TOOLS = (
    "iptables-save", "ip6tables-save", "iptables-restore", "ip6tables-restore",
    "iptables-legacy-save", "ip6tables-legacy-save", "iptables-legacy-restore", "ip6tables-legacy-restore",
    "iptables-nft-save", "ip6tables-nft-save", "iptables-nft-restore", "ip6tables-nft-restore",
)  # fmt: skip


class FirewallError(RuntimeError):
    """A firewall host could not be built."""


@dataclass(frozen=True, slots=True)
class FirewallSpec:
    """What to build. ``backend``: nft | legacy | None (whatever ``iptables-restore`` is)."""

    name: str
    rules_path: str | None = None
    backend: str | None = None
    sudo: str = "nopasswd"  # nopasswd | password
    sudo_all: bool = False  # True: any command as root (what Ansible's become needs)


@dataclass(slots=True)
class Firewall:
    """A built firewall host (JSON-able: it goes into the lab manifest)."""

    name: str
    netns: str
    veth: str
    host: str  # the firewall's eth0 address, where sshd listens
    peer: str  # the root namespace end of the link
    port: int
    user: str
    password: str
    sudo: str
    sudo_all: bool
    backend: str
    rules_path: str | None
    sshd_pid: int
    sshd_start: int
    host_key: str  # "ssh-ed25519 AAAA..."
    state_dir: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Firewall":
        return cls(**data)


# --------------------------------------------------------------------------- small helpers


def _run(argv: list[str], *, input_text: str | None = None, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise FirewallError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def netns_exec(netns: str, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as root inside namespace ``netns``."""
    return _run(["ip", "netns", "exec", netns] + argv, **kwargs)


def firewall_unavailable_reason() -> str | None:
    """None when firewall hosts can be built here; otherwise why not (for ``pytest.skip``)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "lab firewalls need root (network namespaces, useradd, sudoers, sshd)"
    if not os.access(SSHD, os.X_OK):
        return f"lab firewalls need {SSHD} (apt-get install openssh-server)"
    for tool in ("ip", "useradd", "userdel", "chpasswd", "visudo", "sudo", "iptables-restore"):
        if shutil.which(tool) is None:
            return f"lab firewalls need {tool!r} on PATH"
    if not os.path.exists("/proc/self/ns/net"):
        return "lab firewalls need network namespace support"
    return None


@contextlib.contextmanager
def global_lock() -> Iterator[None]:
    """One machine-wide lock around what several labs could race on (addresses, useradd)."""
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def pid_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): a pid's identity across reuse.

    None when there is no such process, or only its zombie is left (it is dead; whoever its
    parent is will reap it).
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def kill_pid(pid: int, start: int | None, *, timeout: float = 3.0) -> bool:
    """SIGTERM then SIGKILL one process, if it is still the one we started; True if it is gone."""
    now = pid_start_time(pid)
    if now is None or (start is not None and now != start):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
        if pid_start_time(pid) != now:
            return True
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.05)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    return pid_start_time(pid) != now


def _pids_where(pred: Callable[[int], bool]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if pred(int(entry)):
                    pids.append(int(entry))
    return pids


def _kill_pids(pids: list[int]) -> None:
    starts = {pid: pid_start_time(pid) for pid in pids}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(pid_start_time(p) == s and s is not None for p, s in starts.items()):
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


def _kill_netns_processes(netns: str) -> None:
    """Every process inside the namespace (the sshd listener, sessions, their children), by pid."""
    try:
        ino = os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return
    _kill_pids(_pids_where(lambda pid: os.stat(f"/proc/{pid}/ns/net").st_ino == ino))


def _kill_user_processes(uid: int) -> None:
    _kill_pids(_pids_where(lambda pid: os.stat(f"/proc/{pid}").st_uid == uid))


def _used_addresses() -> set[ipaddress.IPv4Address]:
    out = _run(["ip", "-o", "-4", "addr", "show"]).stdout
    return {ipaddress.ip_interface(m.group(1)).ip for m in re.finditer(r"inet (\S+)", out)}


def _allocate_link() -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """A /30 of 198.18.0.0/15 that no interface in the root namespace uses (call under the lock)."""
    used = _used_addresses()
    count = LINK_NET.num_addresses // 4
    start = random.randrange(count)
    for k in range(count):
        base = LINK_NET.network_address + 4 * ((start + k) % count)
        peer, host = base + 1, base + 2
        if peer not in used and host not in used:
            return peer, host
    raise FirewallError("no free /30 left in 198.18.0.0/15")


def _wait_port(host: str, port: int, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_start_time(pid) is None:
            raise FirewallError(f"sshd (pid {pid}) exited before listening on {host}:{port}")
        with contextlib.suppress(OSError):
            with socket.create_connection((host, port), timeout=0.5) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        time.sleep(0.03)
    raise FirewallError(f"sshd did not answer on {host}:{port} within {timeout:.0f} s")


def _resolve_backend(backend: str | None) -> str:
    if backend in ("nft", "legacy"):
        return backend
    if backend is not None:
        raise FirewallError(f"backend must be nft, legacy or None, not {backend!r}")
    version = _run(["iptables-restore", "--version"], check=False)
    return "nft" if "nf_tables" in (version.stdout + version.stderr) else "legacy"


def _sudoers_text(user: str, mode: str, lab_id: str, sudo_all: bool = False) -> str:
    tag = "NOPASSWD: " if mode == "nopasswd" else ""
    if sudo_all:
        return (
            f"# diffserv.audit lab {lab_id}: throwaway user, removed by `python -m lab down`\n"
            f"Defaults:{user} !lecture\n"
            f"{user} ALL=(ALL:ALL) {tag}ALL\n"
        )
    tools = [p for p in (shutil.which(t, path="/usr/sbin:/sbin:/usr/bin") for t in _SUDO_TOOLS) if p]
    nft = shutil.which("nft", path="/usr/sbin:/sbin")
    cmds = ", ".join(tools + ([f"{nft} list ruleset"] if nft else []))
    return (
        f"# diffserv.audit lab {lab_id}: throwaway user, removed by `python -m lab down`\n"
        f"Defaults:{user} !lecture\n"
        f"{user} ALL=(root) {tag}{cmds}\n"
    )


_SSHD_CONFIG = """\
# diffserv.audit lab firewall {name} (lab {lab_id}): generated, throwaway
Port {port}
ListenAddress {host}
HostKey {host_key}
PidFile {state_dir}/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers {user}
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 200:30:400
MaxSessions 64
LogLevel INFO
Subsystem sftp internal-sftp
"""


# --------------------------------------------------------------------------- build


def create_firewall(
    spec: FirewallSpec,
    *,
    lab_id: str,
    index: int,
    state_dir: str,
    record: Callable[[dict[str, Any]], None],
    authorized_key: str | None = None,
    password: str,
) -> Firewall:
    """Build one firewall host; report every resource through ``record`` as it is made."""
    netns = f"{NS_PREFIX}{lab_id}-{index}"
    veth = f"dsfw{lab_id}{index}"
    user = f"dsfw{lab_id}{index}"
    if len(veth) > 15:
        raise FirewallError(f"interface name {veth!r} too long")
    backend = _resolve_backend(spec.backend)
    if spec.sudo not in ("nopasswd", "password"):
        raise FirewallError(f"sudo must be nopasswd or password, not {spec.sudo!r}")
    os.makedirs(state_dir, mode=0o700, exist_ok=True)

    # Namespace and link. The address is taken under the lock and held by the interface.
    record({"kind": "netns", "name": netns})
    _run(["ip", "netns", "add", netns])
    with global_lock():
        peer, host = _allocate_link()
        record({"kind": "veth", "name": veth})
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
        _run(["ip", "addr", "add", f"{peer}/30", "dev", veth])
    _run(["ip", "link", "set", veth, "up"])
    for argv in (
        ["ip", "-n", netns, "link", "set", "lo", "up"],
        ["ip", "-n", netns, "addr", "add", f"{host}/30", "dev", "eth0"],
        ["ip", "-n", netns, "link", "set", "eth0", "up"],
    ):
        _run(argv)
    # eth1, the inside interface: a dummy where the kernel has it, else a veth pair whose both
    # ends stay inside the namespace (some kernels are built without the dummy driver).
    if _run(["ip", "-n", netns, "link", "add", "eth1", "type", "dummy"], check=False).returncode != 0:
        _run(["ip", "-n", netns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1-inside"])
        _run(["ip", "-n", netns, "link", "set", "eth1-inside", "up"])
    _run(["ip", "-n", netns, "addr", "add", "192.0.2.1/24", "dev", "eth1"])
    _run(["ip", "-n", netns, "link", "set", "eth1", "up"])

    # Rules: the dump as given; iptables-restore of the chosen backend inside the namespace.
    if spec.rules_path:
        with open(spec.rules_path, encoding="utf-8") as fh:
            rules = fh.read()
        proc = netns_exec(netns, [f"iptables-{backend}-restore"], input_text=rules, check=False)
        if proc.returncode != 0:
            raise FirewallError(f"{spec.rules_path}: iptables-{backend}-restore refused it: {proc.stderr.strip()}")

    # The user, its key, its sudo rights.
    with global_lock():
        record({"kind": "user", "name": user})
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", f"diffserv.audit lab {lab_id}", user])
        _run(["chpasswd"], input_text=f"{user}:{password}\n")
    pw = pwd.getpwnam(user)
    if authorized_key:
        ssh_dir = os.path.join(pw.pw_dir, ".ssh")
        os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(ssh_dir, "authorized_keys"), "w", encoding="utf-8") as fh:
            fh.write(authorized_key.strip() + "\n")
        for path in (ssh_dir, os.path.join(ssh_dir, "authorized_keys")):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(os.path.join(ssh_dir, "authorized_keys"), 0o600)
    sudoers = f"/etc/sudoers.d/{NS_PREFIX}{lab_id}-{index}"
    staging = f"/etc/sudoers.d/.{NS_PREFIX}{lab_id}-{index}.new"  # a dot: sudo ignores it
    record({"kind": "file", "path": sudoers})
    record({"kind": "file", "path": staging})
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o440)
    with os.fdopen(fd, "w") as fh:
        fh.write(_sudoers_text(user, spec.sudo, lab_id, spec.sudo_all))
    _run(["visudo", "-cf", staging])
    os.replace(staging, sudoers)

    # sshd inside the namespace.
    key_path = os.path.join(state_dir, "ssh_host_ed25519_key")
    host_key = generate_host_key(key_path)
    config_path = os.path.join(state_dir, "sshd_config")
    with open(config_path, "w", encoding="utf-8") as fh:
        fh.write(_SSHD_CONFIG.format(name=spec.name, lab_id=lab_id, port=22, host=host, host_key=key_path, state_dir=state_dir, user=user))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    _run([SSHD, "-t", "-f", config_path])
    log = open(os.path.join(state_dir, "sshd.log"), "ab")
    try:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, SSHD, "-D", "-f", config_path, "-E", os.path.join(state_dir, "sshd.log")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    finally:
        log.close()
    start = pid_start_time(proc.pid)
    record({"kind": "pid", "pid": proc.pid, "start": start, "what": f"sshd {spec.name}"})
    _wait_port(str(host), 22, proc.pid)
    return Firewall(
        name=spec.name, netns=netns, veth=veth, host=str(host), peer=str(peer), port=22, user=user,
        password=password, sudo=spec.sudo, sudo_all=spec.sudo_all, backend=backend, rules_path=spec.rules_path,
        sshd_pid=proc.pid, sshd_start=start or 0, host_key=host_key, state_dir=state_dir,
    )  # fmt: skip


# --------------------------------------------------------------------------- teardown


def remove_resource(res: Mapping[str, Any]) -> str | None:
    """Undo one manifest resource; None when it is gone (or was never made), else what failed."""
    kind = res.get("kind")
    try:
        if kind == "pid":
            if not kill_pid(int(res["pid"]), res.get("start")):
                return f"pid {res['pid']} ({res.get('what', '?')}) survived SIGKILL"
        elif kind == "netns":
            name = str(res["name"])
            if os.path.exists(f"/run/netns/{name}"):
                _kill_netns_processes(name)
                proc = _run(["ip", "netns", "delete", name], check=False)
                if proc.returncode != 0 and os.path.exists(f"/run/netns/{name}"):
                    return f"netns {name}: {proc.stderr.strip()}"
        elif kind == "veth":
            name = str(res["name"])
            if os.path.exists(f"/sys/class/net/{name}"):
                proc = _run(["ip", "link", "delete", name], check=False)
                if proc.returncode != 0 and os.path.exists(f"/sys/class/net/{name}"):
                    return f"veth {name}: {proc.stderr.strip()}"
        elif kind == "user":
            name = str(res["name"])
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                return None
            if not pw.pw_gecos.startswith("diffserv.audit lab"):
                return f"user {name} is not a lab user (comment {pw.pw_gecos!r}); left alone"
            _kill_user_processes(pw.pw_uid)
            with global_lock():
                proc = _run(["userdel", "--remove", name], check=False)
            with contextlib.suppress(KeyError):
                pwd.getpwnam(name)
                return f"userdel {name}: {proc.stderr.strip()}"
        elif kind == "file":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(res["path"]))
        elif kind == "dir":
            shutil.rmtree(str(res["path"]), ignore_errors=True)
            if os.path.exists(str(res["path"])):
                return f"directory {res['path']} could not be removed"
        else:
            return f"unknown resource kind {kind!r}"
    except (OSError, subprocess.SubprocessError, FirewallError) as exc:
        return f"{kind} {res}: {exc}"
    return None
