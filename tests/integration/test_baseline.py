"""diffserv_baseline: what changed since an earlier audit; failing only on new conflicts; check mode."""

import json
import pathlib

import pytest
import yaml

from tests.integration.test_playbooks import EXAMPLE, ansible

pytestmark = pytest.mark.playbook
FIREWALL = (EXAMPLE / "partner-fw.rules").read_text()
ROUTER_CFG = (EXAMPLE / "border-router.cfg").read_text()
LINK = [{"from": "partner-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}]


def inventory(folder, firewall_text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "partner-fw.rules").write_text(firewall_text)
    (folder / "border-router.cfg").write_text(ROUTER_CFG)
    hosts = {"all": {"vars": {"diffserv_links": LINK}, "children": {
        "linux_firewalls": {"hosts": {"partner-fw": {"diffserv_config_file": str(folder / "partner-fw.rules")}}},
        "ios_routers": {"hosts": {"border-rtr1": {"diffserv_config_file": str(folder / "border-router.cfg")}}}}}}
    (folder / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return folder / "hosts.yml"


def run_audit(hosts, report, *extra):
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(hosts), "-e", "diffserv_report_dir=%s" % report,
                  *extra)
    findings = json.loads((report / "findings.json").read_text()) if (report / "findings.json").exists() else None
    return run, findings


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory):
    """Last week: the founding incident. This week: POP3 (line 23) no longer marked, SMTP (port 25) now marked 0x04."""
    base = tmp_path_factory.mktemp("baseline")
    before_hosts = inventory(base / "before", FIREWALL)
    run, before = run_audit(before_hosts, base / "before" / "report")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = FIREWALL.split("\n")
    assert "--dport 110 -j TOS --set-tos 0x04" in lines[22] and "--dport 25 -j TOS --set-tos 0x10" in lines[30]
    lines[30] = lines[30].replace("--set-tos 0x10", "--set-tos 0x04")
    del lines[22]
    after_hosts = inventory(base / "after", "\n".join(lines))
    return base, before, after_hosts


def test_new_resolved_and_unchanged_are_matched_by_meaning(before_and_after):
    base, before, after_hosts = before_and_after
    baseline_file = base / "before" / "report" / "findings.json"
    report = base / "after" / "report"
    run, after = run_audit(after_hosts, report, "-e", "diffserv_baseline=%s" % baseline_file)
    assert run.returncode == 0, run.stdout + run.stderr
    diff = after["baseline"]
    assert diff["file"] == str(baseline_file)
    assert diff["counts"] == {"new": 1, "resolved": 1, "unchanged": 2}
    assert "--dport 25 -j TOS --set-tos 0x04" in diff["new"][0]["rule"] and diff["new"][0]["line"] == 30
    assert "--dport 110 " in diff["resolved"][0]["rule"] and diff["resolved"][0]["line"] == 23
    # The rules below the deleted line moved up one: still the same conflicts.
    assert sorted(entry["line"] for entry in diff["unchanged"]) == [24, 34]
    assert sorted(c["marker"]["line"] for c in before["conflicts"]) == [23, 25, 35]
    # Every report shows it.
    assert "## Since the baseline" in (report / "report.md").read_text()
    assert "1 new, 1 resolved, 2 unchanged" in (report / "report.md").read_text()
    html = (report / "report.html").read_text()
    assert 'id="baseline"' in html and 'class="baseline-new"' in html and "--dport 25 -j TOS --set-tos 0x04" in html
    assert "[NEW] DSCP 1: partner-fw %s:30" % (base / "after" / "partner-fw.rules") in run.stdout


def test_fail_on_new_conflict_fails_only_on_new_ones(before_and_after):
    base, _before, after_hosts = before_and_after
    baseline_file = base / "before" / "report" / "findings.json"
    run, _ = run_audit(after_hosts, base / "gate-new", "-e", "diffserv_baseline=%s" % baseline_file,
                       "-e", "diffserv_fail_on_new_conflict=true")
    assert run.returncode != 0
    assert "1 new conflict(s) since %s" % baseline_file in run.stdout
    # Against itself nothing is new: the gate passes although conflicts remain.
    run, again = run_audit(after_hosts, base / "gate-same", "-e", "diffserv_baseline=%s" % (base / "gate-new" / "findings.json"),
                           "-e", "diffserv_fail_on_new_conflict=true")
    assert run.returncode == 0, run.stdout + run.stderr
    assert again["conflicts"] and again["baseline"]["counts"]["new"] == 0
    # Without a baseline every conflict is new.
    run, _ = run_audit(after_hosts, base / "gate-none", "-e", "diffserv_fail_on_new_conflict=true")
    assert run.returncode != 0 and "no baseline given: every conflict is new" in run.stdout


def test_a_baseline_that_is_not_findings_fails_naming_it(before_and_after, tmp_path):
    _base, _before, after_hosts = before_and_after
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"summary": {}}')
    run, _ = run_audit(after_hosts, tmp_path / "r", "-e", "diffserv_baseline=%s" % wrong)
    assert run.returncode != 0
    assert "%s: not a findings.json of diffserv.audit (no 'conflicts' list)" % wrong in run.stdout
    run, _ = run_audit(after_hosts, tmp_path / "r2", "-e", "diffserv_baseline=%s" % (tmp_path / "missing.json"))
    assert run.returncode != 0 and "baseline %s cannot be read" % (tmp_path / "missing.json") in run.stdout


def test_check_mode_writes_every_report_says_so_and_writes_no_bundle(before_and_after, tmp_path):
    base, _before, after_hosts = before_and_after
    report = tmp_path / "check"
    run, findings = run_audit(after_hosts, report, "--check", "-e", "diffserv_baseline=%s"
                              % (base / "before" / "report" / "findings.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert {p.name for p in report.iterdir()} == {"findings.json", "report.md", "report.html", "findings.sarif",
                                                  "junit.xml"}
    assert findings["baseline"]["counts"]["new"] == 1
    assert "Check mode: the reports were written all the same (controller-side files); the change bundles were not." \
        in run.stdout
    assert "Run in check mode" in (report / "report.md").read_text() and 'id="check-mode"' in \
        (report / "report.html").read_text()
    assert "planned, not written (check mode)" in run.stdout
