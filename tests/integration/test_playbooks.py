"""Real ansible-playbook and ansible runs (subprocesses) against the collection in this checkout."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
pytestmark = pytest.mark.playbook


def ansible(tool, *args, cwd=ROOT, env_extra=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    env.update(env_extra or {})
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_audit_playbook_on_the_example_names_line_35():
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "line 35 (forward/output, out eth0): 0x04 = DSCP 1 (LE), ECN Not-ECT" in run.stdout
    assert "failed=0" in run.stdout


def test_adhoc_trace_of_the_partner_syn_ack(tmp_path):
    packets = {"iptables": "inventories/example/files/partner-fw.rules",
               "packets": [{"in_interface": "eth1", "out_interface": "eth0", "protocol": "tcp",
                            "sport": 25, "dport": 28680, "tos": 0}]}
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.trace", "-a", json.dumps(packets))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("localhost | SUCCESS => ")
    result = json.loads(run.stdout.split(" => ", 1)[1])
    (packet,) = result["packets"]
    assert (packet["tos"], packet["dscp"], packet["verdict"]) == (4, 1, "accept")
    assert [step["line"] for step in packet["steps"]] == [35]


def test_truncated_dump_fails_the_host_with_file_and_line(tmp_path):
    dump = tmp_path / "cut.rules"
    dump.write_text("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j TOS --set-tos 0x04\n")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    linux_firewalls:\n      hosts:\n        cut-fw:\n"
                         "          diffserv_config_file: %s\n        good-fw:\n"
                         "          diffserv_config_file: %s\n"
                         % (dump, ROOT / "inventories/example/files/partner-fw.rules"))
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(inventory))
    assert run.returncode != 0
    assert "cut.rules:1: table mangle has no COMMIT: the dump is truncated" in run.stdout
    assert "cut-fw" in run.stdout and "good-fw                    : ok=2" in run.stdout


def test_trace_rejects_bad_arguments_from_the_documented_spec():
    run = ansible("ansible", "localhost", "-m", "diffserv.audit.trace", "-a",
                  json.dumps({"iptables": "inventories/example/files/partner-fw.rules",
                              "packets": [{"path": "sideways"}]}))
    assert run.returncode != 0
    assert "sideways" in run.stdout and "forward" in run.stdout
