"""Fixtures for the lab tests: an in-process IOS simulator per test, a lab per module.

The simulator tests need neither root nor sshd (paramiko serves on 127.0.0.1, a free port); the
firewall tests need root, sshd and iptables and skip with the reason otherwise. Every name, port
and address is unique per lab, so ``pytest -n 2`` runs them side by side.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any, Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lab.iossim import Device, DeviceSpec, Faults, IOSSimServer, read_log  # noqa: E402

BORDER_CFG = ROOT / "tests" / "unit" / "plugins" / "module_utils" / "ios" / "fixtures" / "border-router.cfg"
PARTNER_RULES = ROOT / "inventories" / "example" / "files" / "partner-fw.rules"

MINIMAL_CFG = """\
!
version 15.7
hostname lab-rtr
!
policy-map mark
 class class-default
  set dscp default
!
interface GigabitEthernet0/0
 ip address 198.51.100.1 255.255.255.0
 service-policy input mark
!
access-list 106 permit ip any any dscp 1
!
route-map null_policy_route permit 10
 match ip address 106
 set interface Null0
!
end
"""


def border_config() -> str:
    if BORDER_CFG.exists():
        return BORDER_CFG.read_text()
    pytest.skip(f"{BORDER_CFG} is missing")
    raise AssertionError


class Sim:
    """A running in-process simulator and what a test needs to talk to it."""

    def __init__(self, server: IOSSimServer, device: Device) -> None:
        self.server = server
        self.device = device

    @property
    def log_path(self) -> str:
        assert self.device.spec.log_path
        return self.device.spec.log_path

    def params(self, **overrides: Any) -> dict[str, Any]:
        spec = self.device.spec
        p = {
            "device_type": "cisco_ios",
            "host": self.server.host,
            "port": self.server.port,
            "username": spec.username,
            "password": spec.password,
            "secret": spec.enable_secret,
            "conn_timeout": 5,
        }
        p.update(overrides)
        return p

    def log(self) -> list[dict[str, Any]]:
        return read_log(self.log_path)


@pytest.fixture
def make_sim(tmp_path: pathlib.Path) -> Iterator[Any]:
    """``make_sim(config=..., faults=..., privilege=...)`` -> a started Sim (stopped after the test)."""
    servers: list[IOSSimServer] = []

    def factory(config: str | None = None, faults: dict[str, Any] | None = None, privilege: int = 1, name: str = "r1") -> Sim:
        d = tmp_path / name
        d.mkdir(exist_ok=True)
        spec = DeviceSpec(
            name=name,
            config=config if config is not None else border_config(),
            password="lab-pass",
            enable_secret="lab-enable",
            privilege=privilege,
            log_path=str(d / "commands.jsonl"),
            faults_path=str(d / "faults.json"),
            running_path=str(d / "running-config"),
            startup_path=str(d / "startup-config"),
            faults=Faults.from_mapping(faults),
        )
        server = IOSSimServer(Device(spec)).start()
        servers.append(server)
        return Sim(server, server.device)

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def sim(make_sim: Any) -> Sim:
    return make_sim()
