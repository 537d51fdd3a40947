"""Secrets never reach an artifact: every file a run writes and every console line, scanned for every value.

The router fixture holds a secret in every place IOS/IOS-XE keeps one, the partner's dump holds
secrets in the comment of the conflicting rule and in string matches; each fixture's .values file
lists its secret values.  The runs: a full audit with its change bundles, `remediate --check --diff`
for each strategy, and an audit of the dump cut right after a line carrying a secret (a truncated
dump is an error that quotes the line).
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
SECRETS = ROOT / "tests" / "fixtures" / "secrets"
ROUTER = SECRETS / "router-every-secret.cfg"
FIREWALL = SECRETS / "firewall-secrets.rules"
STRATEGIES = ("remove_policy", "change_dscp", "remark_boundary")
pytestmark = pytest.mark.playbook


def _values():
    values = []
    for path in (ROUTER.with_suffix(".values"), FIREWALL.with_suffix(".values")):
        values.extend(value for value in path.read_text().split("\n") if value)
    return values


def _ansible_playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def _inventory(folder, firewall_text):
    """Saved files, a link from the firewall's egress to the router's uplink: the founding incident's shape."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "partner-fw.rules").write_text(firewall_text)
    (folder / "border-rtr1.cfg").write_text(ROUTER.read_text())
    inventory = {"all": {
        "vars": {"diffserv_links": [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]},
        "children": {
            "linux_firewalls": {"hosts": {"partner-fw": {"diffserv_config_file": str(folder / "partner-fw.rules")}}},
            "ios_routers": {"hosts": {"border-rtr1": {"diffserv_config_file": str(folder / "border-rtr1.cfg")}}},
        }}}
    path = folder / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _leaks(texts, values):
    """(where, line number, value) of the first value found, scanning texts in order; None when clean."""
    for where, text in texts:
        for number, line in enumerate(text.split("\n"), 1):
            for value in values:
                if value in line:
                    return where, number, value
    return None


def _written(report):
    return [(str(path), path.read_text(errors="replace")) for path in sorted(report.rglob("*")) if path.is_file()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run of the scenario: (name, completed process, report folder or None)."""
    base = tmp_path_factory.mktemp("secrets")
    done = []
    inventory = _inventory(base / "inventory", FIREWALL.read_text())
    report = base / "report"
    done.append(("audit", _ansible_playbook("diffserv.audit.audit", "-v", "-i", str(inventory),
                                            "-e", "diffserv_report_dir=%s" % report), report))
    for strategy in STRATEGIES:
        done.append(("remediate %s" % strategy, _ansible_playbook(
            "diffserv.audit.remediate", "-v", "-i", str(inventory), "-e", "diffserv_strategy=%s" % strategy,
            "--check", "--diff"), None))
    # The dump cut right after the conflicting rule, whose comment carries a secret: no COMMIT.  And the
    # same rule cut right after its secret (a transfer that lost the end of one line): the error quotes it.
    text = FIREWALL.read_text()
    lines = text.split("\n")
    cut_at = next(n for n, line in enumerate(lines, 1) if "Zq7FwComment01" in line)
    for name, cut in (("line", "\n".join(lines[:cut_at]) + "\n"),
                      ("value", text.replace('Zq7FwComment01 (ticket 4711)" -j TOS --set-tos 0x04', "Zq7FwComment01"))):
        truncated = _inventory(base / ("cut-after-%s" % name), cut)
        cut_report = base / ("cut-after-%s-report" % name)
        done.append(("audit of the dump cut after the secret's %s" % name, _ansible_playbook(
            "diffserv.audit.audit", "-v", "-i", str(truncated), "-e", "diffserv_report_dir=%s" % cut_report),
            cut_report))
    return done


def test_the_audit_still_finds_the_dscp_1_conflict(runs):
    _name, run, report = runs[0]
    assert run.returncode == 0, run.stdout + run.stderr
    findings = json.loads((report / "findings.json").read_text())
    conflicts = [c for c in findings["conflicts"] if c["dscp"] == 1]
    assert conflicts and findings["errors"] == []
    syn_ack = next(c for c in conflicts if c["marker"]["line"] == 35)
    assert syn_ack["marker"]["rule"].endswith('--comment "<redacted:iptables-comment#1>" -j TOS --set-tos 0x04')
    assert syn_ack["treatment"]["interface"] == "GigabitEthernet0/0"
    assert syn_ack["treatment"]["action"] == "null-routed"
    # the bundles were written, candidates included: they carry the whole (redacted) configuration
    assert {path.suffix for path in (report / "changes").rglob("*")} >= {".candidate", ".diff", ".md"}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_is_shown_in_check_mode(runs, strategy):
    _name, run, _report = next(r for r in runs if r[0] == "remediate %s" % strategy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "<redacted:" in run.stdout  # the diff shows the configurations, secrets marked


def test_the_truncated_dump_is_reported_as_such(runs):
    reasons = []
    for name, run, report in runs[-2:]:
        findings = json.loads((report / "findings.json").read_text())
        assert [e["host"] for e in findings["errors"]] == ["partner-fw"], name
        assert run.returncode != 0, name
        reasons.append(findings["errors"][0]["reason"])
    assert "no COMMIT" in reasons[0]
    # the line cut after its secret is quoted in the error, the secret redacted
    assert "partner-fw.rules:35: unterminated double quote" in reasons[1]
    assert '--comment "<redacted:iptables-comment' in reasons[1]


def test_no_secret_value_in_any_file_or_console_line(runs):
    values = _values()
    assert len(values) >= 100
    scanned = []
    for name, run, report in runs:
        scanned.append(("%s: stdout" % name, run.stdout))
        scanned.append(("%s: stderr" % name, run.stderr))
        if report is not None:
            files = _written(report)
            assert files, name
            scanned.extend(files)
    leak = _leaks(scanned, values)
    assert leak is None, "secret %r leaked: %s line %d" % (leak[2], leak[0], leak[1])
