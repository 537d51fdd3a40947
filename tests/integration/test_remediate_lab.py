"""remediate against the lab: a dry run touches nothing, an apply is verified and idempotent, a refusal rolls back.

The router is the lab's IOS SSH simulator (no Cisco image runs here); it keeps running and startup
configurations and records every command it receives, which is what proves the dry run.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

pytestmark = [pytest.mark.lab, pytest.mark.playbook]
if os.geteuid() != 0 or not pathlib.Path("/usr/sbin/sshd").exists():
    pytest.skip("the lab needs root (network namespaces) and openssh-server", allow_module_level=True)

from lab import Lab  # noqa: E402

LINKS = [{"from": "fw1:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]


def remediate(lab, tmp_path, strategy, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "diffserv.audit.remediate", "-i", str(lab.inventory_path), "-e",
         json.dumps({"diffserv_links": LINKS, "diffserv_strategy": strategy}), *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_check_diff_shows_the_change_and_sends_no_configuration_command(tmp_path):
    with Lab(firewalls=1, routers=1) as lab:
        router = lab.routers[0]
        before = router.running_config()
        run = remediate(lab, tmp_path, "change_dscp", "--check", "--diff")
        assert run.returncode == 0, run.stdout[-3000:]
        assert "-  set ip dscp 1" in run.stdout and "+  set ip dscp 3" in run.stdout
        assert router.config_commands() == []
        assert router.running_config() == before


def test_apply_is_verified_then_a_second_run_changes_nothing(tmp_path):
    with Lab(firewalls=1, routers=1) as lab:
        router = lab.routers[0]
        first = remediate(lab, tmp_path, "change_dscp")
        assert first.returncode == 0, first.stdout[-4000:]
        assert "changed: [localhost]" in first.stdout
        running = router.running_config()
        assert "set ip dscp 3" in running and "set ip dscp 1" not in running
        assert "dscp 3" in running.split("access-list 106")[1].split("\n")[0] or "dscp 3" in running
        assert list((tmp_path / "backups").glob("border-rtr1.*.running")), "no backup written"
        assert router.config_commands(), "the apply sent no configuration command"
        second = remediate(lab, tmp_path, "change_dscp")
        assert second.returncode == 0, second.stdout[-3000:]
        assert "changed=0" in second.stdout


def test_a_refused_command_is_rolled_back_with_the_device_words(tmp_path):
    with Lab(firewalls=1, routers=1, faults={"*": {"reject_commands": [r"^set ip dscp 3$"]}}) as lab:
        router = lab.routers[0]
        before = router.running_config()
        run = remediate(lab, tmp_path, "change_dscp")
        assert run.returncode != 0
        assert "Invalid input detected" in run.stdout and "rolled back" in run.stdout
        assert router.running_config() == before


def test_drift_stops_the_apply_before_any_command(tmp_path):
    sys.path.insert(0, str(ROOT / ".collections"))
    from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact
    from ansible_collections.diffserv.audit.plugins.plugin_utils.session import CollectError, Target, apply_ios

    with Lab(firewalls=0, routers=1) as lab:
        router = lab.routers[0]
        params = router.netmiko_params()
        audited = redact(router.running_config()).replace("access-list 106 permit ip any any dscp 1",
                                                          "access-list 106 permit ip any any dscp 2")
        target = Target(host=params["host"], port=params["port"], username=params["username"],
                        password=params["password"], become_password=params.get("secret"),
                        host_key_checking=False, timeout=10)
        with pytest.raises(CollectError, match="changed since the audit; nothing was sent") as raised:
            apply_ios(target, ["ip access-list extended 106", " 20 permit ip any any dscp 3", " exit"], [],
                      audited, redact, lambda after: None, lambda text: None)
        assert "-access-list 106 permit ip any any dscp 2" in str(raised.value)
        assert "+access-list 106 permit ip any any dscp 1" in str(raised.value)
        assert router.config_commands() == []


def test_a_device_going_silent_mid_apply_is_reported_with_what_it_applied(tmp_path):
    # The apply session sends: terminal width, terminal length, enable, the secret, show running-config,
    # configure terminal, then the change. Silent after 7 commands: mid-change.
    with Lab(firewalls=1, routers=1, faults={"*": {"silent_after_commands": 7}}) as lab:
        run = remediate(lab, tmp_path, "change_dscp", "-e", "diffserv_collect_timeout=6")
    assert run.returncode != 0
    assert "stopped answering during the change" in run.stdout
    assert "what it applied, against the audited configuration" in run.stdout or "applied nothing" in run.stdout


@pytest.mark.parametrize("strategy, gone", [("remove_policy", "ip policy route-map null_policy_route")])
def test_other_strategies_apply_and_settle(tmp_path, strategy, gone):
    with Lab(firewalls=1, routers=1) as lab:
        first = remediate(lab, tmp_path, strategy)
        assert first.returncode == 0, first.stdout[-4000:]
        assert gone not in lab.routers[0].running_config()
        second = remediate(lab, tmp_path, strategy)
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]


def test_remark_boundary_changes_the_router_and_our_firewall_then_settles(tmp_path):
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        first = remediate(lab, tmp_path, "remark_boundary")
        assert first.returncode == 0, first.stdout[-4000:]
        mangle = lab.firewalls[0].iptables_save("mangle")
        assert "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00" in mangle
        assert "set ip dscp default" in lab.routers[0].running_config()
        second = remediate(lab, tmp_path, "remark_boundary")
        assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
