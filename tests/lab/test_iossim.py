"""The IOS simulator: its configuration model, and netmiko's cisco_ios driver against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

netmiko = pytest.importorskip("netmiko")
paramiko = pytest.importorskip("paramiko")

from netmiko import ConnectHandler  # noqa: E402
from netmiko.exceptions import ConfigInvalidException, NetmikoAuthenticationException, ReadTimeout  # noqa: E402

from lab.iosconfig import IOSConfig, mode_of  # noqa: E402
from lab.iossim import DeviceSpec, Faults, command_records, is_config_command, read_log  # noqa: E402
from tests.lab.conftest import MINIMAL_CFG, ROOT, border_config  # noqa: E402

pytestmark = pytest.mark.lab


def apply_all(cfg: IOSConfig, commands: list[str]) -> list[str]:
    """Apply commands as one configuration session; return their statuses."""
    path: tuple = ()
    statuses = []
    for command in commands:
        outcome = cfg.apply(path, command)
        path = outcome.path
        statuses.append(outcome.status)
    return statuses


# --------------------------------------------------------------------------- configuration model


def test_border_router_config_round_trips_through_running_config():
    text = border_config()
    shown = IOSConfig(text).running_config()
    original = [l for l in text.splitlines() if not l.startswith("Current configuration")]
    assert [l for l in shown.splitlines() if not l.startswith("Current configuration")] == original


def test_current_configuration_counts_the_bytes_it_shows():
    shown = IOSConfig(MINIMAL_CFG).running_config()
    body = shown.split("\n", 3)[3]
    assert f"Current configuration : {len(body)} bytes" in shown
    assert shown.rstrip().endswith("end")


def test_no_access_list_in_any_form_deletes_the_whole_numbered_list():
    cfg = IOSConfig(MINIMAL_CFG)
    assert apply_all(cfg, ["access-list 106 deny ip any any"]) == ["ok"]
    assert [l for l in cfg.lines() if l.startswith("access-list 106")] == [
        "access-list 106 permit ip any any dscp 1",
        "access-list 106 deny   ip any any",
    ]
    apply_all(cfg, ["no access-list 106 permit ip any any dscp 1"])
    assert not [l for l in cfg.lines() if l.startswith("access-list 106")]


def test_named_acl_entries_carry_sequence_numbers_that_running_config_hides():
    cfg = IOSConfig(MINIMAL_CFG)
    statuses = apply_all(
        cfg,
        [
            "ip access-list extended EDGE",
            "permit tcp any any eq 25",
            "deny ip any any dscp 1",
            "permit ip any any",
            "no 20",
            "15 deny ip any any dscp 3",
            "15 permit ip any any",
        ],
    )
    assert statuses == ["ok"] * 6 + ["refused"]  # duplicate sequence number
    block = cfg.lines()[cfg.lines().index("ip access-list extended EDGE") :][:4]
    assert block == [
        "ip access-list extended EDGE",
        " permit tcp any any eq 25",
        " deny   ip any any dscp 3",
        " permit ip any any",
    ]
    entries = dict((name, e) for name, _, e in cfg.access_lists())["EDGE"]
    assert entries == [(10, "permit tcp any any eq 25"), (15, "deny ip any any dscp 3"), (30, "permit ip any any")]


def test_numbered_acl_is_edited_by_sequence_through_ip_access_list_extended():
    cfg = IOSConfig(MINIMAL_CFG)
    apply_all(cfg, ["access-list 106 deny ip any any", "ip access-list extended 106", "no 10", "10 permit ip any any dscp 3"])
    assert [l for l in cfg.lines() if l.startswith("access-list 106")] == [
        "access-list 106 permit ip any any dscp 3",
        "access-list 106 deny   ip any any",
    ]


def test_no_policy_map_is_refused_while_attached_and_allowed_after_detach():
    cfg = IOSConfig(MINIMAL_CFG)
    outcome = cfg.apply((), "no policy-map mark")
    assert outcome.status == "refused"
    assert outcome.output == "Policy map mark is being used\n"
    assert "policy-map mark" in cfg.lines()
    assert apply_all(cfg, ["interface GigabitEthernet0/0", "no service-policy input mark", "no policy-map mark"]) == ["ok"] * 3
    assert "policy-map mark" not in cfg.lines()
    assert " service-policy input mark" not in cfg.lines()


def test_route_map_and_acl_can_be_deleted_while_referenced():
    cfg = IOSConfig(MINIMAL_CFG.replace("\nend\n", "\ninterface GigabitEthernet0/1\n ip policy route-map null_policy_route\n!\nend\n"))
    assert apply_all(cfg, ["no access-list 106", "no route-map null_policy_route permit 10"]) == ["ok", "ok"]
    lines = cfg.lines()
    assert not any(l.startswith(("access-list 106", "route-map")) for l in lines)
    assert " ip policy route-map null_policy_route" in lines  # the reference stays, as on IOS


def test_route_map_clauses_by_sequence():
    cfg = IOSConfig(MINIMAL_CFG)
    apply_all(cfg, ["route-map null_policy_route deny 5", "match ip address 107", "route-map null_policy_route permit 20"])
    headers = [l for l in cfg.lines() if l.startswith("route-map")]
    assert headers == [
        "route-map null_policy_route deny 5",
        "route-map null_policy_route permit 10",
        "route-map null_policy_route permit 20",
    ]
    apply_all(cfg, ["no route-map null_policy_route"])
    assert not [l for l in cfg.lines() if l.startswith("route-map")]


def test_command_from_a_parent_mode_leaves_the_sub_mode():
    cfg = IOSConfig(MINIMAL_CFG)
    path: tuple = ()
    for command, mode in [
        ("interface GigabitEthernet0/0", "config-if"),
        ("access-list 120 permit ip any any", "config"),
        ("policy-map mark", "config-pmap"),
        ("class class-default", "config-pmap-c"),
        ("set dscp 3", "config-pmap-c"),
        ("class http", "config-pmap-c"),
        ("route-map X permit 10", "config-route-map"),
        ("ip access-list extended 106", "config-ext-nacl"),
        ("interface Gi0/0", "config-if"),
        ("class-map match-any http", "config-cmap"),
    ]:
        outcome = cfg.apply(path, command)
        assert outcome.status == "ok", command
        path = outcome.path
        assert mode_of(path) == mode, command
    assert "  set dscp 3" in cfg.lines()  # replaced "set dscp default"
    assert "  set dscp default" not in cfg.lines()


def test_interface_sub_commands_replace_and_negate():
    cfg = IOSConfig(MINIMAL_CFG)
    apply_all(cfg, ["interface GigabitEthernet0/0", "ip policy route-map null_policy_route", "service-policy input other", "no ip address"])
    block = cfg.lines()[cfg.lines().index("interface GigabitEthernet0/0") :][:4]
    assert block == [
        "interface GigabitEthernet0/0",
        " no ip address",
        " ip policy route-map null_policy_route",
        " service-policy input other",
    ]


def test_no_section_header_removes_the_section():
    cfg = IOSConfig(border_config())
    assert apply_all(cfg, ["no class-map match-any http-hacks", "ip access-list extended T", "permit ip any any", "no ip access-list extended T"]) == ["ok"] * 4
    assert not [l for l in cfg.lines() if "http-hacks" in l and l.startswith("class-map")]
    assert "ip access-list extended T" not in cfg.lines()


def test_unknown_configuration_command_is_invalid_at_its_first_word():
    cfg = IOSConfig(MINIMAL_CFG)
    outcome = cfg.apply((), "no  frobnicate all")
    assert (outcome.status, outcome.error_col) == ("invalid", 4)


# --------------------------------------------------------------------------- netmiko against the simulator


def test_netmiko_connects_enables_and_shows_running_config(sim):
    with ConnectHandler(**sim.params()) as conn:
        assert conn.find_prompt() == "border-rtr1>"
        conn.enable()
        assert conn.find_prompt() == "border-rtr1#"
        out = conn.send_command("show running-config")
    lines = out.splitlines()
    assert lines[0] == "Building configuration..."
    assert lines[2].startswith("Current configuration : ") and lines[2].endswith(" bytes")
    assert "route-map null_policy_route permit 10" in lines
    assert lines[-1] == "end"


def test_netmiko_config_set_with_sub_modes_and_no_forms_then_save(sim):
    commands = [
        "interface GigabitEthernet0/0",
        "no ip policy route-map null_policy_route",
        "no service-policy input mark-inbound-http-hacks",
        "exit",
        "no route-map null_policy_route permit 10",
        "no access-list 106",
        "policy-map mark-inbound-http-hacks",
        "class http-hacks",
        "set ip dscp 3",
        "class class-default",
        "set dscp default",
    ]
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        out = conn.send_config_set(commands, error_pattern=r"% Invalid|% Incomplete")
        assert "border-rtr1(config-pmap-c)#" in out
        saved = conn.save_config()
        assert "[OK]" in saved
        running = conn.send_command("show running-config")
        startup = conn.send_command("show startup-config")
    for text in (running, startup, open(sim.device.spec.running_path).read()):
        assert "ip policy route-map" not in text
        assert "access-list 106" not in text
        assert "route-map null_policy_route" not in text
        assert "  set ip dscp 3" in text
        assert " class class-default\n  set dscp default" in text
    assert startup.startswith("Using ")


def test_invalid_input_prints_the_caret_under_the_bad_word(sim):
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        out = conn.send_command("show runnning-config", strip_prompt=False, strip_command=False)
        lines = out.splitlines()
        assert lines[1] == " " * len("border-rtr1#show ") + "^"
        assert lines[2] == "% Invalid input detected at '^' marker."
        with pytest.raises(ConfigInvalidException):
            conn.send_config_set(["interface GigabitEthernet0/0", "frobnicate now"], error_pattern=r"% Invalid")


def test_command_log_counts_every_command_with_session_and_mode(sim):
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        conn.send_command("show running-config")
        conn.send_command("show ip access-lists")
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        conn.send_config_set(["access-list 120 permit ip any any", "interface Gi0/1", "description lab"])
    records = sim.log()
    sessions = sorted({r["session"] for r in command_records(records)})
    assert len(sessions) == 2
    first = command_records(records, sessions[0])
    assert [r["command"] for r in first] == [
        "terminal width 511", "terminal length 0", "enable", "<secret>",
        "show running-config", "show ip access-lists", "exit",
    ]  # fmt: skip
    assert not [r for r in first if is_config_command(r)]  # a read-only session sends no configuration
    second = [r for r in command_records(records, sessions[1]) if is_config_command(r)]
    assert [(r["mode"], r["command"]) for r in second] == [
        ("privileged", "configure terminal"),
        ("config", "access-list 120 permit ip any any"),
        ("config", "interface Gi0/1"),
        ("config-if", "description lab"),
        ("config-if", "end"),
    ]
    assert all({"ts", "time", "device", "seq", "prompt", "status"} <= set(r) for r in first)
    assert "lab-enable" not in open(sim.log_path).read()


def test_wrong_password_raises_authentication_error_quickly(sim):
    start = time.monotonic()
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**sim.params(password="wrong"))
    assert time.monotonic() - start < 3


def test_reject_auth_fault_fails_even_the_right_password(make_sim):
    sim = make_sim(faults={"reject_auth": True})
    start = time.monotonic()
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**sim.params())
    assert time.monotonic() - start < 3
    assert [r["fault"] for r in sim.log() if r["event"] == "auth"] == ["reject_auth"]


def test_faults_change_at_runtime_through_the_control_file(sim):
    ConnectHandler(**sim.params()).disconnect()
    with open(sim.device.spec.faults_path, "w") as fh:
        json.dump({"reject_auth": True}, fh)
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**sim.params())
    sim.device.set_faults({})
    ConnectHandler(**sim.params()).disconnect()


def test_silent_after_commands_times_out_within_the_read_timeout(make_sim):
    # 4 commands: terminal width, terminal length, enable, the secret. The 5th gets no answer.
    sim = make_sim(faults={"silent_after_commands": 4})
    conn = ConnectHandler(**sim.params())
    try:
        conn.enable()
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            # cmd_verify=False: netmiko waits a fixed 10 s for the echo otherwise.
            conn.send_command("show running-config", read_timeout=1.0, cmd_verify=False)
        assert time.monotonic() - start < 3
    finally:
        # Not disconnect(): against a silent device it waits 10 s more for a prompt.
        conn.paramiko_cleanup()
    statuses = [r["status"] for r in command_records(sim.log())]
    assert statuses[4] == "silent"
    assert any(r["event"] == "silent" for r in sim.log())


def test_silent_after_lines_cuts_the_output(make_sim):
    sim = make_sim(faults={"silent_after_lines": 40})
    conn = ConnectHandler(**sim.params())
    try:
        conn.enable()
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            conn.send_command("show running-config", read_timeout=1.0)
        assert time.monotonic() - start < 3
    finally:
        conn.paramiko_cleanup()


def test_slow_device_delays_each_command_and_line(make_sim):
    sim = make_sim(faults={"delay_per_command": 0.2, "delay_per_line": 0.002})
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        start = time.monotonic()
        out = conn.send_command("show running-config", read_timeout=20)
        elapsed = time.monotonic() - start
    assert out.splitlines()[-1] == "end"
    assert elapsed >= 0.2 + 0.002 * len(out.splitlines())


def test_rejected_command_prints_the_ios_error_and_changes_nothing(make_sim):
    sim = make_sim(faults={"reject_commands": [r"^no access-list"]})
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        out = conn.send_config_set(["no access-list 106"])
        assert "% Invalid input detected at '^' marker." in out
        assert "access-list 106 permit ip any any dscp 1" in conn.send_command("show running-config")
    assert [r["status"] for r in command_records(sim.log()) if r["command"] == "no access-list 106"] == ["rejected"]


def test_policy_map_refusal_over_ssh(sim):
    with ConnectHandler(**sim.params()) as conn:
        conn.enable()
        out = conn.send_config_set(["no policy-map mark-inbound-http-hacks"])
        assert "Policy map mark-inbound-http-hacks is being used" in out
        assert "policy-map mark-inbound-http-hacks" in conn.send_command("show running-config")


def test_wrong_enable_secret_three_times_gives_bad_secrets(sim):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(sim.server.host, port=sim.server.port, username="netops", password="lab-pass", look_for_keys=False, allow_agent=False)
    try:
        chan = client.invoke_shell()
        chan.settimeout(5)
        buf = read_until(chan, b"border-rtr1>")
        chan.send(b"enable\n")
        read_until(chan, b"Password: ")
        for _ in range(2):
            chan.send(b"nope\n")
            read_until(chan, b"Password: ")
        chan.send(b"nope\n")
        buf = read_until(chan, b"border-rtr1>")
        assert b"% Bad secrets" in buf
    finally:
        client.close()


def read_until(chan, marker: bytes, timeout: float = 5) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} not seen in {buf[-300:]!r}")
        buf += chan.recv(65536)
    return buf


def test_paging_and_copy_run_start_prompt_on_a_raw_shell(make_sim):
    sim = make_sim(privilege=15)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(sim.server.host, port=sim.server.port, username="netops", password="lab-pass", look_for_keys=False, allow_agent=False)
    try:
        chan = client.invoke_shell()
        chan.settimeout(5)
        read_until(chan, b"border-rtr1#")
        chan.send(b"sh run\n")
        assert read_until(chan, b" --More-- ").count(b"\r\n") == 24  # echo line + 23 lines
        chan.send(b"q")
        read_until(chan, b"border-rtr1#")
        chan.send(b"copy running-config startup-config\n")
        read_until(chan, b"Destination filename [startup-config]? ")
        chan.send(b"\n")
        assert b"[OK]" in read_until(chan, b"border-rtr1#")
    finally:
        client.close()


def test_exec_request_runs_one_command(make_sim):
    sim = make_sim(privilege=15)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(sim.server.host, port=sim.server.port, username="netops", password="lab-pass", look_for_keys=False, allow_agent=False)
    try:
        _, stdout, _ = client.exec_command("show version")
        out = stdout.read().decode()
        assert out.startswith("Cisco IOS Software")
        assert "Configuration register is 0x2102" in out
        assert stdout.channel.recv_exit_status() == 0
    finally:
        client.close()


def test_daemon_serves_until_sigterm(tmp_path):
    spec = DeviceSpec(name="d1", config=MINIMAL_CFG, password="pw", log_path=str(tmp_path / "log.jsonl"), faults_path=str(tmp_path / "faults.json"))
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec.to_json()))
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "lab.iossim", "--spec", str(spec_path), "--ready", str(ready)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        info = json.loads(ready.read_text())
        with ConnectHandler(device_type="cisco_ios", host=info["host"], port=info["port"], username="netops", password="pw", secret="lab-enable") as conn:
            conn.enable()
            assert "hostname lab-rtr" in conn.send_command("show running-config")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    assert [r["event"] for r in read_log(str(tmp_path / "log.jsonl"))][-1] == "stop"


def test_faults_validation_names_the_unknown_fault():
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.from_mapping({"silent_after": 3})


def test_firewall_lab_says_why_it_cannot_run_without_root(monkeypatch):
    from lab import firewalls

    monkeypatch.setattr(firewalls.os, "geteuid", lambda: 1000)
    assert "root" in firewalls.firewall_unavailable_reason()
