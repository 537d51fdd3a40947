"""Live collection through netmiko: a real sshd in a network namespace serving a real iptables-save,
and the IOS SSH device simulator (no Cisco image runs here: the simulator keeps real configuration
state and records every command it receives)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

pytestmark = [pytest.mark.lab, pytest.mark.playbook]
if os.geteuid() != 0 or not pathlib.Path("/usr/sbin/sshd").exists():
    pytest.skip("live collection needs root (network namespaces) and openssh-server", allow_module_level=True)

from lab import Lab  # noqa: E402

LINKS = [{"from": "fw1:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]
SHOW_ONLY = re.compile(r"^(show |terminal |enable$|<secret>$|exit$|$)")


def key(conflict):
    dport = re.search(r"--dport \S+", conflict["marker"]["rule"])
    return (conflict["dscp"], conflict["marker"]["chain"], dport.group(0) if dport else None,
            conflict["treatment"]["action"], tuple(line["line"] for line in conflict["treatment"]["lines"]))


def audit(lab, tmp_path, *extra):
    report = tmp_path / "report"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    run = subprocess.run([str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(lab.inventory_path),
                          "-e", json.dumps({"diffserv_links": LINKS, "diffserv_report_dir": str(report)}), *extra],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    findings_path = report / "findings.json"
    return run, json.loads(findings_path.read_text()) if findings_path.exists() else None


def test_live_audit_finds_what_the_saved_files_give_and_sends_only_show_commands(tmp_path):
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        run, findings = audit(lab, tmp_path)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        commands = [entry["command"] for entry in lab.routers[0].commands()]
        configuration = lab.routers[0].config_commands()
    assert "show running-config" in commands and configuration == []
    assert all(SHOW_ONLY.match(command) for command in commands), commands
    # The live dump is what iptables-save prints back (its own line numbers, `--set-tos 0x04/0xff`):
    # compare what the rules match and what the router does, not file positions.
    live = {key(c) for c in findings["conflicts"]}
    assert (1, "POSTROUTING", "--dport 512:65535", "null-routed", (46, 84, 51, 35, 48, 89, 90, 77, 91)) in live
    saved = subprocess.run(
        [str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", "inventories/example", "-e",
         json.dumps({"diffserv_links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}],
                     "diffserv_report_dir": str(tmp_path / "saved")})],
        cwd=ROOT, env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")), capture_output=True, text=True)
    assert saved.returncode == 0, saved.stdout[-3000:]
    from_files = {key(c) for c in json.loads((tmp_path / "saved" / "findings.json").read_text())["conflicts"]}
    assert live == from_files
    assert findings["errors"] == []


def test_wrong_password_fails_that_host_and_the_others_still_report(tmp_path):
    with Lab(firewalls=1, routers=1, faults={"*": {"reject_auth": True}}) as lab:
        run, findings = audit(lab, tmp_path)
    assert run.returncode != 0
    errors = {e["host"]: e["reason"] for e in findings["errors"]}
    assert "authentication failed for netops@" in errors["border-rtr1"]
    assert re.search(r"border-rtr1\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1", run.stdout)
    assert "fw1" not in errors and findings["summary"]["firewalls"] == ["fw1"]


def test_device_that_stops_answering_fails_within_its_timeout_and_nothing_partial_is_analysed(tmp_path):
    with Lab(firewalls=1, routers=1, faults={"*": {"silent_after_lines": 40}}) as lab:
        run, findings = audit(lab, tmp_path, "-e", "diffserv_collect_timeout=8")
    assert run.returncode != 0
    errors = {e["host"]: e["reason"] for e in findings["errors"]}
    assert "stopped answering" in errors["border-rtr1"] or "timed out" in errors["border-rtr1"].lower()
    assert findings["summary"]["routers"] == [] and findings["conflicts"] == []


# ------------------------------------------------------------------ native nftables (issue 15, item 3)
NATIVE = ROOT / "tests" / "fixtures" / "inputs" / "nft" / "partner-fw.nft"
# Beside the partner's iptables-nft dump (the lab's default rules): a native table whose chain runs after
# iptables' mangle POSTROUTING (priority mangle + 10) and marks UDP the dump never touches, and clears
# TCP ports 40000-65535 that the dump marks with 0x04: the last write on the hook wins.
BESIDE = """table inet partner_voice {
\tchain post {
\t\ttype filter hook postrouting priority mangle + 10; policy accept;
\t\toifname "eth0" udp dport 4000-4100 ip dscp set lephb
\t\toifname "eth0" tcp dport 40000-65535 ip dscp set cs0
\t}
}
"""


def by_group(lab):
    """The lab's inventory with the firewalls' platform left to their group (linux_firewalls), as a user
    writes it: the lab names `diffserv_platform: iptables`, which forces the iptables driver."""
    inventory = yaml.safe_load(lab.inventory_path.read_text())
    for values in inventory["all"]["children"]["linux_firewalls"]["hosts"].values():
        values.pop("diffserv_platform", None)
    lab.inventory_path.write_text(yaml.safe_dump(inventory))


def nft_load(firewall, text, flush=False):
    """Load an nft ruleset into the lab firewall's namespace, as root (`nft -f`)."""
    if flush:
        firewall.run(["nft", "flush", "ruleset"])
    firewall.run(["nft", "-f", "-"], input_text=text)




def test_a_native_nft_host_is_collected_with_nft_list_ruleset_and_gives_the_founding_conflict(tmp_path):
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        firewall = lab.firewalls[0]
        nft_load(firewall, NATIVE.read_text(), flush=True)
        assert firewall.run(["iptables-nft-save"]).stdout.strip() == ""
        by_group(lab)
        run, findings = audit(lab, tmp_path)
        commands = [entry["command"] for entry in lab.routers[0].commands()]
        configuration = lab.routers[0].config_commands()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert configuration == [] and all(SHOW_ONLY.match(command) for command in commands), commands
    founding = [c for c in findings["conflicts"] if c["dscp"] == 1 and c["treatment"]["action"] == "null-routed"
                and "tcp dport 512-65535" in c["marker"]["rule"]]
    assert founding, [c["marker"]["rule"] for c in findings["conflicts"]]
    marker = founding[0]["marker"]
    # As nft lists it back (`ip dscp set 1` prints `lephb`), from the live listing, on its own line.
    assert marker["file"].endswith("(nft list ruleset)") and marker["table"] == "inet partner"
    assert marker["rule"] == 'oifname "eth0" tcp dport 512-65535 ip dscp set lephb'
    assert founding[0]["treatment"]["lines"][0]["line"] in (46, 84, 51, 35, 48, 89, 90, 77, 91)
    assert findings["errors"] == [] and findings["summary"]["firewalls"] == ["fw1"]
    assert not any("iptables-save" in c["marker"]["file"] for c in findings["conflicts"])


def test_an_iptables_host_left_to_its_group_is_collected_as_before(tmp_path):
    # Asked for nft list ruleset too, it shows only the tables iptables-nft made: an iptables host.
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        by_group(lab)
        run, findings = audit(lab, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert (1, "POSTROUTING", "--dport 512:65535", "null-routed", (46, 84, 51, 35, 48, 89, 90, 77, 91)) in \
        {key(c) for c in findings["conflicts"]}
    assert {c["marker"]["file"].rsplit("(", 1)[1] for c in findings["conflicts"]} == {"iptables-save)"}
    assert findings["errors"] == [] and not any("nft" in note["reason"] for note in findings["unmodeled"])


def test_a_host_running_iptables_nft_and_native_tables_reports_both_in_hook_order(tmp_path):
    with Lab(firewalls=1, routers=1, sudo="password") as lab:
        firewall = lab.firewalls[0]
        nft_load(firewall, BESIDE)
        listing = firewall.run(["nft", "list", "ruleset"]).stdout
        assert "table ip mangle" in listing and "table inet partner_voice" in listing
        by_group(lab)
        run, findings = audit(lab, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert findings["errors"] == []
    # The iptables-nft rules are read from iptables-save (nft 1.0.6 lists `--set-tos 0x04/0xff` as
    # `ip6 dscp set 0x01`: the marker quotes the dump's own text), the native table from the listing.
    founding = [c for c in findings["conflicts"] if c["marker"]["table"] == "mangle"
                and "--dport 512:65535 -j TOS --set-tos 0x04/0xff" in c["marker"]["rule"]
                and c["treatment"]["action"] == "null-routed"]
    assert founding, [(c["marker"]["table"], c["marker"]["rule"]) for c in findings["conflicts"]]
    assert not any("ip6 dscp set" in c["marker"]["rule"] for c in findings["conflicts"])
    # Hook order: the native chain (mangle + 10) runs after iptables' mangle (-150) and clears TCP
    # 40000-65535, so the founding conflict's flows stop at 39999.
    dports = {str(d) for c in founding for flow in c["flows"] for d in flow["dport"]}
    assert dports == {"512-39999"}, dports
    voice = [c for c in findings["conflicts"] if c["marker"]["table"] == "inet partner_voice"]
    assert voice and voice[0]["dscp"] == 1 and voice[0]["marker"]["rule"] == 'oifname "eth0" udp dport 4000-4100 ip dscp set lephb'
    assert {c["marker"]["table"] for c in findings["conflicts"]} == {"mangle", "inet partner_voice"}
    said = [note["reason"] for note in findings["unmodeled"] if "both are analysed" in note["reason"]]
    assert said and "inet partner_voice" in said[0] and "mangle" in said[0], said


@pytest.mark.parametrize("sudo", ["nopasswd", "password"])
def test_a_sudo_that_allows_iptables_save_but_not_nft_collects_the_host_and_says_what_it_could_not_see(tmp_path, sudo):
    with Lab(firewalls=1, routers=1, sudo=sudo) as lab:
        firewall = lab.firewalls[0]
        sudoers = pathlib.Path("/etc/sudoers.d") / firewall.netns  # the lab's file, removed by lab.down()
        narrowed = re.sub(r", /\S+/nft list ruleset", "", sudoers.read_text())
        assert "nft list ruleset" not in narrowed
        sudoers.write_text(narrowed)
        by_group(lab)
        run, findings = audit(lab, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert findings["errors"] == [] and findings["summary"]["firewalls"] == ["fw1"]
    assert (1, "POSTROUTING", "--dport 512:65535", "null-routed", (46, 84, 51, 35, 48, 89, 90, 77, 91)) in \
        {key(c) for c in findings["conflicts"]}
    (said,) = [note for note in findings["unmodeled"] if note["reason"].startswith("nft list ruleset: not collected")]
    assert "does not allow 'nft list ruleset'" in said["reason"] and "rules it holds are not seen" in said["reason"]
