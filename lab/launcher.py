"""Bring the lab up and down: ``python -m lab up|down|status`` and the ``Lab`` context manager.

``up`` starts N firewall hosts (``lab.firewalls``) and M simulated IOS routers (``lab.iossim``
daemons, one process each, on 127.0.0.1 and a free port), then writes under the state directory
(default ``lab/state/``, gitignored):

    manifest.json    everything made, recorded *before* it is made; ``down`` undoes it
    inventory.yml    Ansible inventory: groups linux_firewalls and ios_routers
    known_hosts      the throwaway host keys ([127.0.0.1]:PORT for routers, the address for firewalls)
    id_ed25519       a throwaway client key, accepted by every router and firewall user
    routers/<name>/  spec.json, ready.json, faults.json (control file), commands.jsonl (command
                     log), running-config, startup-config, host key, daemon.log
    firewalls/<name>/ sshd_config, host key, sshd.log

A copy of every manifest also goes to ``/var/lib/diffserv-lab/labs/<lab id>.json`` so that
``python -m lab down --all`` finds labs whose state directory was a temporary one, and so that a
lab whose owner process died (a killed pytest) is removed by the next ``Lab()`` or
``cleanup_stale()``. ``Lab`` objects made in Python have an owner (this process); labs made by
``python -m lab up`` have none and stay until ``down``.

Python::

    with Lab(firewalls=1, routers=1, faults={"border-rtr1": {"delay_per_command": 0.2}}) as lab:
        lab.inventory_path                    # .../inventory.yml
        r = lab.routers[0]
        r.netmiko_params()                    # ConnectHandler(**r.netmiko_params())
        r.running_config(); r.log(); r.set_faults(silent_after_commands=3)
        fw = lab.firewalls[0]
        fw.iptables_save("mangle")            # as root inside the namespace (ground truth)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from lab.firewalls import (
    NS_PREFIX,
    Firewall,
    FirewallSpec,
    create_firewall,
    firewall_unavailable_reason,
    netns_exec,
    pid_start_time,
    remove_resource,
)
from lab.iossim import DeviceSpec, Faults, command_records, generate_host_key, is_config_command, read_log

__all__ = [
    "Lab",
    "LabError",
    "RouterHandle",
    "FirewallHandle",
    "cleanup_stale",
    "main",
    "DEFAULT_STATE_DIR",
    "DEFAULT_ROUTER_CONFIG",
    "DEFAULT_FIREWALL_RULES",
]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = REPO / "lab" / "state"
DEFAULT_ROUTER_CONFIG = REPO / "tests" / "unit" / "plugins" / "module_utils" / "ios" / "fixtures" / "border-router.cfg"
DEFAULT_FIREWALL_RULES = REPO / "inventories" / "example" / "files" / "partner-fw.rules"
REGISTRY = Path("/var/lib/diffserv-lab/labs")


class LabError(RuntimeError):
    """The lab could not be brought up (what was made has been taken down again)."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid YAML double-quoted scalar


# --------------------------------------------------------------------------- handles


@dataclass
class RouterHandle:
    """One running simulated router."""

    name: str
    host: str
    port: int
    username: str
    password: str
    enable_secret: str
    privilege: int
    pid: int
    pid_start: int
    dir: str
    host_key: str

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "commands.jsonl")

    @property
    def faults_path(self) -> str:
        return os.path.join(self.dir, "faults.json")

    def running_config(self) -> str:
        """The router's running-config as ``show running-config`` prints it (written on change)."""
        return Path(self.dir, "running-config").read_text(encoding="utf-8")

    def startup_config(self) -> str:
        return Path(self.dir, "startup-config").read_text(encoding="utf-8")

    def log(self) -> list[dict[str, Any]]:
        """All command-log records (see ``lab.iossim.Device.log``)."""
        return read_log(self.log_path)

    def commands(self, session: str | None = None) -> list[Mapping[str, Any]]:
        return command_records(self.log(), session)

    def config_commands(self) -> list[Mapping[str, Any]]:
        """Commands that configure: typed in a config mode, or conf t / write / copy run start."""
        return [r for r in self.log() if is_config_command(r)]

    def set_faults(self, faults: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Replace the router's faults (takes effect at its next command or login)."""
        data = Faults.from_mapping({**(faults or {}), **kwargs}).to_mapping()
        _atomic_write(Path(self.faults_path), json.dumps(data, indent=1) + "\n")

    def netmiko_params(self, **overrides: Any) -> dict[str, Any]:
        params = {
            "device_type": "cisco_ios",
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "secret": self.enable_secret,
        }
        params.update(overrides)
        return params

    def alive(self) -> bool:
        return pid_start_time(self.pid) == self.pid_start


@dataclass
class FirewallHandle:
    """One running firewall host."""

    fw: Firewall

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fw, name)

    def iptables_save(self, table: str | None = None) -> str:
        """iptables-save of this firewall's backend, run as root inside its namespace."""
        argv = [f"iptables-{self.fw.backend}-save"] + (["-t", table] if table else [])
        return netns_exec(self.fw.netns, argv).stdout

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command as root inside the firewall's namespace."""
        return netns_exec(self.fw.netns, list(argv), **kwargs)

    def netmiko_params(self, **overrides: Any) -> dict[str, Any]:
        params = {
            "device_type": "linux",
            "host": self.fw.host,
            "port": self.fw.port,
            "username": self.fw.user,
            "password": self.fw.password,
            "secret": self.fw.password,
        }
        params.update(overrides)
        return params

    def alive(self) -> bool:
        return pid_start_time(self.fw.sshd_pid) == self.fw.sshd_start


# --------------------------------------------------------------------------- the lab


class Lab:
    """N firewalls + M routers, their inventory and known_hosts; ``down`` leaves nothing behind.

    ``faults`` maps a router name (or ``"*"`` for every router, or an index) to ``Faults``
    fields; ``router_privilege`` 1 (default) logs in at ``host>`` and needs ``enable``, 15 at
    ``host#`` (what a raw ``ssh host 'show run'`` needs). ``sudo``: ``nopasswd`` or ``password``
    (the firewall user's password, which the inventory also gives as ansible_become_password);
    a list gives one value per firewall. ``sudo_all``: the firewall users may run any command as
    root (Ansible's ``become`` needs it); by default only iptables-save/-restore and friends.
    """

    def __init__(
        self,
        firewalls: int = 1,
        routers: int = 1,
        *,
        faults: Mapping[Any, Mapping[str, Any]] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        firewall_rules: str | os.PathLike[str] | None = None,
        router_config: str | os.PathLike[str] | None = None,
        sudo: str | Sequence[str] = "nopasswd",
        sudo_all: bool = False,
        backend: str | None = None,
        router_privilege: int = 1,
        owned: bool = True,
    ) -> None:
        self.n_firewalls = firewalls
        self.n_routers = routers
        self.faults = dict(faults or {})
        self._temp_state = state_dir is None and owned
        self.state_dir = Path(state_dir) if state_dir is not None else (
            Path(tempfile.mkdtemp(prefix="dslab-")) if owned else DEFAULT_STATE_DIR
        )
        self.firewall_rules = Path(firewall_rules) if firewall_rules else DEFAULT_FIREWALL_RULES
        self.router_config = Path(router_config) if router_config else DEFAULT_ROUTER_CONFIG
        self.sudo = [sudo] * firewalls if isinstance(sudo, str) else list(sudo)
        if len(self.sudo) != firewalls:
            raise ValueError("sudo: one value, or one per firewall")
        self.sudo_all = sudo_all
        self.backend = backend
        self.router_privilege = router_privilege
        self.owned = owned
        self.lab_id = secrets.token_hex(3)
        self.routers: list[RouterHandle] = []
        self.firewalls: list[FirewallHandle] = []
        self.manifest: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

    # paths ---------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.state_dir / "manifest.json"

    @property
    def inventory_path(self) -> Path:
        return self.state_dir / "inventory.yml"

    @property
    def known_hosts_path(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def client_key_path(self) -> Path:
        return self.state_dir / "id_ed25519"

    # manifest ------------------------------------------------------------

    def _save_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=1) + "\n"
        _atomic_write(self.manifest_path, text, 0o600)
        try:
            REGISTRY.mkdir(parents=True, exist_ok=True)
            _atomic_write(REGISTRY / f"{self.lab_id}.json", text, 0o600)
        except PermissionError:
            pass  # not root: a routers-only lab, nothing outside the state directory to find

    def _record(self, resource: dict[str, Any]) -> None:
        self.manifest["resources"].append(resource)
        self._save_manifest()

    # up ------------------------------------------------------------------

    def __enter__(self) -> "Lab":
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> "Lab":
        """Build everything; on any failure take down what was made and raise LabError."""
        if self.n_firewalls:
            reason = firewall_unavailable_reason()
            if reason:
                raise LabError(reason)
        cleanup_stale()
        if self.manifest_path.exists():
            raise LabError(f"{self.manifest_path} exists: a lab is up there (python -m lab down first)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        me = os.getpid()
        self.manifest = {
            "lab_id": self.lab_id,
            "created": _now(),
            "status": "creating",
            "owner": {"pid": me, "start": pid_start_time(me)} if self.owned else None,
            "state_dir": str(self.state_dir),
            "remove_state_dir": self._temp_state,
            "resources": [],
            "routers": [],
            "firewalls": [],
        }
        self._save_manifest()
        if self.owned:
            atexit.register(self.down)  # a forgotten lab goes with its process
        t0 = time.monotonic()
        try:
            client_pub = generate_host_key(str(self.client_key_path))
            for p in (self.client_key_path, Path(str(self.client_key_path) + ".pub")):
                self._record({"kind": "file", "path": str(p)})
            self._start_routers(client_pub)
            self.timings["routers"] = time.monotonic() - t0
            t1 = time.monotonic()
            self._start_firewalls(client_pub)
            self.timings["firewalls"] = time.monotonic() - t1
            self._write_known_hosts()
            self._write_inventory()
            self.manifest["status"] = "up"
            self._save_manifest()
        except BaseException as exc:
            problems = self.down()
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            extra = f" (and down reported: {'; '.join(problems)})" if problems else ""
            raise LabError(f"lab up failed: {exc}{extra}") from exc
        self.timings["up"] = time.monotonic() - t0
        return self

    def _router_faults(self, index: int, name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for key in ("*", index, str(index), name):
            if key in self.faults:
                merged.update(self.faults[key])
        Faults.from_mapping(merged)  # validate early
        return merged

    def _start_routers(self, client_pub: str) -> None:
        if not self.n_routers:
            return
        base_text = self.router_config.read_text(encoding="utf-8")
        m = re.search(r"^hostname (\S+)", base_text, re.M)
        base_name = m.group(1) if m else "router"
        stem = re.sub(r"\d+$", "", base_name) or base_name
        started = []
        for i in range(1, self.n_routers + 1):
            name = base_name if i == 1 else f"{stem}{i}"
            text = base_text if i == 1 else re.sub(r"^hostname \S+", f"hostname {name}", base_text, count=1, flags=re.M)
            rdir = self.state_dir / "routers" / name
            rdir.mkdir(parents=True, exist_ok=True)
            self._record({"kind": "dir", "path": str(rdir)})
            key_path = rdir / "ssh_host_ed25519_key"
            host_key = generate_host_key(str(key_path))
            spec = DeviceSpec(
                name=name,
                config=text,
                username="netops",
                password=secrets.token_urlsafe(12),
                enable_secret=secrets.token_urlsafe(12),
                privilege=self.router_privilege,
                log_path=str(rdir / "commands.jsonl"),
                faults_path=str(rdir / "faults.json"),
                running_path=str(rdir / "running-config"),
                startup_path=str(rdir / "startup-config"),
                authorized_keys=(client_pub,),
                faults=Faults.from_mapping(self._router_faults(i - 1, name)),
                host="127.0.0.1",
                port=0,
                host_key_path=str(key_path),
            )
            spec_path = rdir / "spec.json"
            _atomic_write(spec_path, json.dumps(spec.to_json(), indent=1) + "\n", 0o600)
            ready = rdir / "ready.json"
            with open(rdir / "daemon.log", "ab") as log:
                env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
                proc = subprocess.Popen(
                    [sys.executable, "-m", "lab.iossim", "--spec", str(spec_path), "--ready", str(ready)],
                    cwd=str(REPO), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    start_new_session=True,
                )  # fmt: skip
            start = pid_start_time(proc.pid)
            self._record({"kind": "pid", "pid": proc.pid, "start": start, "what": f"iossim {name}"})
            started.append((name, spec, proc, start, rdir, ready, host_key))
        deadline = time.monotonic() + 30
        for name, spec, proc, start, rdir, ready, host_key in started:
            while not ready.exists():
                if proc.poll() is not None:
                    log = (rdir / "daemon.log").read_text(errors="replace")[-2000:]
                    raise LabError(f"router {name}: simulator exited ({proc.returncode}): {log}")
                if time.monotonic() > deadline:
                    raise LabError(f"router {name}: simulator not ready after 30 s")
                time.sleep(0.02)
            info = json.loads(ready.read_text())
            handle = RouterHandle(
                name=name, host=info["host"], port=int(info["port"]), username=spec.username,
                password=spec.password, enable_secret=spec.enable_secret, privilege=spec.privilege,
                pid=proc.pid, pid_start=start or 0, dir=str(rdir), host_key=host_key,
            )  # fmt: skip
            self.routers.append(handle)
            self.manifest["routers"].append(handle.__dict__)
        self._save_manifest()

    def _start_firewalls(self, client_pub: str) -> None:
        rules = str(self.firewall_rules) if self.firewall_rules else None
        for i in range(1, self.n_firewalls + 1):
            name = f"fw{i}"
            fdir = self.state_dir / "firewalls" / name
            fdir.mkdir(parents=True, exist_ok=True)
            self._record({"kind": "dir", "path": str(fdir)})
            fw = create_firewall(
                FirewallSpec(name=name, rules_path=rules, backend=self.backend, sudo=self.sudo[i - 1], sudo_all=self.sudo_all),
                lab_id=self.lab_id,
                index=i,
                state_dir=str(fdir),
                record=self._record,
                authorized_key=client_pub,
                password=secrets.token_urlsafe(12),
            )
            self.firewalls.append(FirewallHandle(fw))
            self.manifest["firewalls"].append(fw.to_json())
            self._save_manifest()

    def _write_known_hosts(self) -> None:
        lines = [f"# diffserv.audit lab {self.lab_id}: throwaway host keys"]
        for r in self.routers:
            lines.append(f"[{r.host}]:{r.port} {r.host_key}")
        for f in self.firewalls:
            lines.append(f"{f.host} {f.fw.host_key}" if f.port == 22 else f"[{f.host}]:{f.port} {f.fw.host_key}")
        self._record({"kind": "file", "path": str(self.known_hosts_path)})
        _atomic_write(self.known_hosts_path, "\n".join(lines) + "\n")

    def inventory(self) -> dict[str, Any]:
        """The inventory as a dict (what ``inventory.yml`` holds)."""
        kh = str(self.known_hosts_path)
        key = str(self.client_key_path)
        fws = {}
        for f in self.firewalls:
            fws[f.name] = {
                "ansible_host": f.host,
                "ansible_port": f.port,
                "ansible_user": f.user,
                "ansible_password": f.password,
                "ansible_become_password": f.password,
                "ansible_ssh_private_key_file": key,
                "diffserv_platform": "iptables",
                "diffserv_host_key_checking": True,
                "diffserv_known_hosts": kh,
                "diffserv_sudo": f.sudo,
                "diffserv_sudo_scope": "all" if f.sudo_all else "iptables",
                "diffserv_iptables_backend": f.backend,
                "diffserv_interfaces": ["eth0", "eth1"],
                "diffserv_lab_netns": f.netns,
                "diffserv_lab_rules_file": f.rules_path or "",
            }
        rts = {}
        for r in self.routers:
            rts[r.name] = {
                "ansible_host": r.host,
                "ansible_port": r.port,
                "ansible_user": r.username,
                "ansible_password": r.password,
                "ansible_become_password": r.enable_secret,
                "ansible_ssh_private_key_file": key,
                "diffserv_platform": "ios",
                "diffserv_host_key_checking": True,
                "diffserv_known_hosts": kh,
                "diffserv_lab_command_log": r.log_path,
                "diffserv_lab_faults_file": r.faults_path,
            }
        return {
            "all": {
                "vars": {
                    "diffserv_lab_id": self.lab_id,
                    "ansible_ssh_common_args": f"-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes",
                },
                "children": {"linux_firewalls": {"hosts": fws}, "ios_routers": {"hosts": rts}},
            }
        }

    def _write_inventory(self) -> None:
        inv = self.inventory()
        out = [
            f"# diffserv.audit lab {self.lab_id}, written by lab.launcher at {_now()}.",
            "# Throwaway credentials and host keys; `python -m lab down` removes all of it.",
            "all:",
            "  vars:",
        ]
        out += [f"    {k}: {_yaml_scalar(v)}" for k, v in inv["all"]["vars"].items()]
        out.append("  children:")
        for group, body in inv["all"]["children"].items():
            out.append(f"    {group}:")
            out.append("      hosts:" + ("" if body["hosts"] else " {}"))
            for host, hvars in body["hosts"].items():
                out.append(f"        {host}:")
                out += [f"          {k}: {_yaml_scalar(v)}" for k, v in hvars.items()]
        self._record({"kind": "file", "path": str(self.inventory_path)})
        _atomic_write(self.inventory_path, "\n".join(out) + "\n", 0o600)

    # down ----------------------------------------------------------------

    def down(self) -> list[str]:
        """Undo everything in the manifest; return what could not be undone (empty: all gone)."""
        if not self.manifest:
            return []
        if self.owned:
            atexit.unregister(self.down)
        problems = down_manifest(self.manifest)
        self.manifest = {}
        self.routers, self.firewalls = [], []
        return problems


# --------------------------------------------------------------------------- teardown


def down_manifest(manifest: Mapping[str, Any]) -> list[str]:
    """Remove a lab's resources in reverse order of creation, then its manifest and registry entry."""
    problems = []
    for res in reversed(list(manifest.get("resources", []))):
        problem = remove_resource(res)
        if problem:
            problems.append(problem)
    state_dir = Path(str(manifest.get("state_dir", "")))
    lab_id = str(manifest.get("lab_id", ""))
    if state_dir.name:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / "manifest.json").unlink()
        for sub in ("routers", "firewalls"):
            with contextlib.suppress(OSError):
                (state_dir / sub).rmdir()
        if manifest.get("remove_state_dir"):
            shutil.rmtree(state_dir, ignore_errors=True)
    if lab_id and not problems:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            (REGISTRY / f"{lab_id}.json").unlink()
    return problems


def _registered() -> list[dict[str, Any]]:
    labs = []
    try:
        paths = sorted(REGISTRY.glob("*.json")) if REGISTRY.is_dir() else []
    except OSError:  # not root: the registry is not readable, and holds nothing of ours
        return []
    for path in paths:
        with contextlib.suppress(OSError, ValueError):
            labs.append(json.loads(path.read_text()))
    return labs


def _owner_alive(manifest: Mapping[str, Any]) -> bool:
    owner = manifest.get("owner")
    if owner is None:
        return True  # made by `python -m lab up`: stays until `down`
    return pid_start_time(int(owner["pid"])) == owner.get("start")


def cleanup_stale() -> list[str]:
    """Take down every registered lab whose owner process is gone; return the lab ids removed."""
    removed = []
    for manifest in _registered():
        if not _owner_alive(manifest):
            down_manifest(manifest)
            removed.append(str(manifest.get("lab_id")))
    return removed


def sweep_orphans() -> list[str]:
    """Remove lab namespaces, veths, users and sudoers files that no registered lab claims."""
    claimed = {str(m.get("lab_id")) for m in _registered()}
    removed = []
    pat = re.compile(rf"^{re.escape(NS_PREFIX)}([0-9a-f]{{6}})-\d+$")
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        m = pat.match(name)
        if m and m.group(1) not in claimed and remove_resource({"kind": "netns", "name": name}) is None:
            removed.append(f"netns {name}")
    for name in os.listdir("/sys/class/net"):
        m = re.match(r"^dsfw([0-9a-f]{6})\d+$", name)
        if m and m.group(1) not in claimed and remove_resource({"kind": "veth", "name": name}) is None:
            removed.append(f"veth {name}")
    with open("/etc/passwd", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split(":")
            m = re.match(r"^dsfw([0-9a-f]{6})\d+$", fields[0])
            if m and m.group(1) not in claimed and fields[4].startswith("diffserv.audit lab"):
                if remove_resource({"kind": "user", "name": fields[0]}) is None:
                    removed.append(f"user {fields[0]}")
    for name in os.listdir("/etc/sudoers.d"):
        m = re.match(rf"^\.?{re.escape(NS_PREFIX)}([0-9a-f]{{6}})-\d+(\.new)?$", name)
        if m and m.group(1) not in claimed:
            os.unlink(f"/etc/sudoers.d/{name}")
            removed.append(f"sudoers {name}")
    return removed


# --------------------------------------------------------------------------- CLI


def _status(manifest: Mapping[str, Any]) -> dict[str, Any]:
    routers = []
    for r in manifest.get("routers", []):
        routers.append({
            "name": r["name"], "address": f"{r['host']}:{r['port']}", "pid": r["pid"],
            "alive": pid_start_time(int(r["pid"])) == r["pid_start"], "log": os.path.join(r["dir"], "commands.jsonl"),
        })  # fmt: skip
    firewalls = []
    for f in manifest.get("firewalls", []):
        firewalls.append({
            "name": f["name"], "address": f"{f['host']}:{f['port']}", "netns": f["netns"],
            "netns_present": os.path.exists(f"/run/netns/{f['netns']}"),
            "sshd_alive": pid_start_time(int(f["sshd_pid"])) == f["sshd_start"], "user": f["user"],
            "sudo": f["sudo"], "backend": f["backend"],
        })  # fmt: skip
    owner = manifest.get("owner")
    return {
        "lab_id": manifest.get("lab_id"),
        "status": manifest.get("status"),
        "created": manifest.get("created"),
        "owner_pid": owner["pid"] if owner else None,
        "state_dir": manifest.get("state_dir"),
        "inventory": os.path.join(str(manifest.get("state_dir")), "inventory.yml"),
        "routers": routers,
        "firewalls": firewalls,
    }


def _print_status(st: Mapping[str, Any]) -> None:
    print(f"lab {st['lab_id']} ({st['status']}, created {st['created']}"
          + (f", owner pid {st['owner_pid']}" if st["owner_pid"] else "") + ")")
    print(f"  inventory: {st['inventory']}")
    for r in st["routers"]:
        print(f"  router   {r['name']:<14} {r['address']:<22} pid {r['pid']} {'up' if r['alive'] else 'DEAD'}  log {r['log']}")
    for f in st["firewalls"]:
        ok = f["netns_present"] and f["sshd_alive"]
        print(f"  firewall {f['name']:<14} {f['address']:<22} netns {f['netns']} sshd {'up' if ok else 'DOWN'}"
              f"  user {f['user']} sudo {f['sudo']} iptables-{f['backend']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="diffserv.audit SSH lab: simulated IOS routers and Linux firewalls")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="default: %(default)s")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="start the lab, write inventory.yml and known_hosts")
    p_up.add_argument("--firewalls", type=int, default=1)
    p_up.add_argument("--routers", type=int, default=1)
    p_up.add_argument("--rules", default=str(DEFAULT_FIREWALL_RULES), help="iptables-save dump for every firewall")
    p_up.add_argument("--router-config", default=str(DEFAULT_ROUTER_CONFIG), help="running-config for every router")
    p_up.add_argument("--sudo", choices=("nopasswd", "password"), default="nopasswd")
    p_up.add_argument("--sudo-all", action="store_true", help="sudo for every command (Ansible become), not only iptables-save/-restore")
    p_up.add_argument("--backend", choices=("nft", "legacy"), default=None, help="iptables backend (default: the system's)")
    p_up.add_argument("--privilege", type=int, choices=(1, 15), default=1, help="router login privilege")
    p_up.add_argument("--faults", default=None, help='JSON: {"<router>|*": {fault: value}}')
    p_down = sub.add_parser("down", help="remove everything the lab made")
    p_down.add_argument("--all", action="store_true", help="every registered lab, then orphaned lab resources")
    p_status = sub.add_parser("status", help="what is up")
    p_status.add_argument("--all", action="store_true", help="every registered lab")
    p_status.add_argument("--json", action="store_true")
    opts = parser.parse_args(argv)
    state_dir = Path(opts.state_dir)

    if opts.cmd == "up":
        lab = Lab(
            opts.firewalls, opts.routers, state_dir=state_dir, firewall_rules=opts.rules,
            router_config=opts.router_config, sudo=opts.sudo, sudo_all=opts.sudo_all, backend=opts.backend,
            router_privilege=opts.privilege, faults=json.loads(opts.faults) if opts.faults else None,
            owned=False,
        )  # fmt: skip
        try:
            lab.up()
        except LabError as exc:
            print(f"lab: {exc}", file=sys.stderr)
            return 1
        _print_status(_status(lab.manifest))
        print(f"  known_hosts: {lab.known_hosts_path}\n  up in {lab.timings['up']:.2f} s")
        return 0

    if opts.cmd == "down":
        manifests = _registered() if opts.all else []
        path = state_dir / "manifest.json"
        if path.exists():
            manifests.append(json.loads(path.read_text()))
        seen, rc = set(), 0
        for m in manifests:
            if m.get("lab_id") in seen:
                continue
            seen.add(m.get("lab_id"))
            problems = down_manifest(m)
            print(f"lab {m.get('lab_id')}: " + ("down" if not problems else "; ".join(problems)))
            rc |= bool(problems)
        if opts.all:
            for item in sweep_orphans():
                print(f"removed orphan {item}")
        if not seen and not opts.all:
            print(f"no lab in {state_dir}")
        return rc

    manifests = _registered() if opts.all else []
    path = state_dir / "manifest.json"
    if path.exists() and not any(m.get("lab_id") == json.loads(path.read_text()).get("lab_id") for m in manifests):
        manifests.append(json.loads(path.read_text()))
    statuses = [_status(m) for m in manifests]
    if opts.json:
        print(json.dumps(statuses, indent=1))
    elif not statuses:
        print(f"no lab in {state_dir}")
    for st in statuses if not opts.json else []:
        _print_status(st)
    return 0
