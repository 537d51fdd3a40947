"""findings.sarif and junit.xml as the audit playbook writes them: valid, complete, redacted."""

import json
import pathlib
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.redact import secrets_in
from tests.integration.test_playbooks import EXAMPLE, MANGLE, ROUTER, SECRETS_CFG, ansible, audit

ROOT = pathlib.Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
pytestmark = pytest.mark.playbook


def valid_sarif(path):
    log = json.loads(path.read_text())
    errors = ["%s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:200])
              for e in jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(log)]
    assert errors == []
    return log


def test_the_founding_incident_in_sarif_and_junit(tmp_path):
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example",
                  "-e", "diffserv_report_dir=%s" % tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    findings = json.loads((tmp_path / "findings.json").read_text())
    log = valid_sarif(tmp_path / "findings.sarif")
    (sarif_run,) = log["runs"]
    assert sarif_run["tool"]["driver"]["name"] == "diffserv.audit" and sarif_run["tool"]["driver"]["version"]
    conflicts = [r for r in sarif_run["results"] if r["ruleId"] == "dscp-conflict/null-routed"]
    assert len(conflicts) == 5 and {r["level"] for r in conflicts} == {"error"}
    # The partner's iptables dump (lines 35, 23, 25) and the modern partner's nft ruleset (lines 16, 13).
    located = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1],
                r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in conflicts}
    assert located == {("partner-fw.rules", 35), ("partner-fw.rules", 23), ("partner-fw.rules", 25),
                       ("modern-partner.nft", 16), ("modern-partner.nft", 13)}
    assert [r["ruleId"] for r in sarif_run["results"] if r["level"] == "note"] == \
        ["dscp-advisory/" + a["kind"] for a in findings["advisories"]]
    root = ET.parse(tmp_path / "junit.xml").getroot()
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "partner-fw:eth0 -> border-rtr1:GigabitEthernet0/0"]
    assert len(case.findall("failure")) == 3
    (modern,) = [c for c in root.iter("testcase") if c.get("name") == "modern-partner:eth0 -> border-rtr1:GigabitEthernet0/0"]
    assert len(modern.findall("failure")) == 2
    assert {c.get("name") for c in root.iter("testcase") if c.get("classname") == "diffserv.audit.host"} == \
        {"partner-fw", "modern-partner", "border-rtr1"}
    assert "Reports: %s/report.md, report.html, findings.sarif, junit.xml, findings.json" % tmp_path in run.stdout


def test_a_host_not_collected_is_a_junit_error_and_a_sarif_notification(tmp_path):
    run, findings, report = audit(
        tmp_path,
        {"cut-fw": "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j TOS --set-tos 0x04\n",
         "good-fw": (EXAMPLE / "partner-fw.rules").read_text()},
        {"border-rtr1": (EXAMPLE / "border-router.cfg").read_text()},
        links=[{"from": "good-fw:eth0", "to": "border-rtr1:GigabitEthernet0/0"}])
    assert run.returncode != 0  # the host that failed fails in the recap
    root = ET.parse(report / "junit.xml").getroot()
    error = root.find(".//testcase[@name='cut-fw']/error")
    assert error is not None and "table mangle has no COMMIT" in error.get("message")
    assert root.find(".//testcase[@name='good-fw']").findall("*") == []
    assert int(root.get("failures")) == len(findings["conflicts"]) == 3 and root.get("errors") == "1"
    notifications = valid_sarif(report / "findings.sarif")["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"].split(":")[0] for n in notifications] == ["cut-fw"]


def test_no_secret_reaches_sarif_junit_or_html(tmp_path):
    config = SECRETS_CFG.read_text().replace("interface GigabitEthernet0/0\n",
                                             "interface GigabitEthernet0/0\n ip policy route-map null\n")
    config = config.replace("end\n", "access-list 106 permit ip any any dscp 1\nroute-map null permit 10\n"
                            " match ip address 106\n set interface Null0\nend\n")
    firewall = MANGLE % ('-A POSTROUTING -j TOS --set-tos 0x10\n'
                         '-A POSTROUTING -m comment --comment "password=hunter2" -j TOS --set-tos 0x04\n')
    run, findings, report = audit(tmp_path, {"fw1": firewall}, {"secret-rtr": config},
                                  links=[{"from": "fw1:eth0", "to": "secret-rtr:GigabitEthernet0/0"}])
    assert run.returncode == 0, run.stdout + run.stderr
    assert findings["conflicts"] and len(findings["conflicts"][0]["marker"]["writers"]) == 2
    secrets = [secret for _line, _kind, secret in secrets_in(config)] + ["hunter2"]
    for name in ("findings.sarif", "junit.xml", "report.html", "report.md"):
        text = (report / name).read_text()
        assert not [secret for secret in secrets if secret in text], name
        assert secrets_in(text) == [], name
    # The earlier write the marker overwrote is quoted with its file and text (from the collected, redacted dump).
    assert "fw1.rules:%d" % findings["conflicts"][0]["marker"]["writers"][0] in (report / "report.md").read_text()
    assert "--set-tos 0x10" in (report / "report.md").read_text()


def test_formats_can_be_chosen(tmp_path):
    run, _findings, report = audit(tmp_path, {"fw1": MANGLE % "-A POSTROUTING -j TOS --set-tos 0x04\n"},
                                   {"rtr1": ROUTER.format(name="rtr1", uplink=" ip policy route-map null_policy_route")})
    assert run.returncode == 0
    assert {p.name for p in report.iterdir() if p.is_file()} >= {"report.md", "report.html", "findings.sarif", "junit.xml"}
    only = tmp_path / "only"
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", str(tmp_path / "hosts.yml"),
                  "-e", "diffserv_report_dir=%s" % only, "-e", '{"diffserv_report_formats": ["sarif"]}')
    assert run.returncode == 0, run.stdout + run.stderr
    assert {p.name for p in only.iterdir() if p.is_file()} == {"findings.json", "findings.sarif"}


def test_each_strategy_bundle_comes_as_one_archive_with_the_html_report(tmp_path):
    import zipfile

    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example",
                  "-e", "diffserv_report_dir=%s" % tmp_path, "-e", "diffserv_report_archives=true")
    assert run.returncode == 0, run.stdout + run.stderr
    strategies = sorted(p.name for p in (tmp_path / "changes").iterdir() if p.is_dir())
    assert strategies == ["change_dscp", "exempt_flows", "remark_boundary", "remove_policy"]
    for name in strategies:
        with zipfile.ZipFile(tmp_path / "changes" / ("%s.zip" % name)) as archive:
            members = set(archive.namelist())
            folder = {"%s/%s" % (name, p.name) for p in (tmp_path / "changes" / name).iterdir()}
            assert members == folder | {"%s/report.html" % name}
            assert {m.rsplit(".", 1)[-1] for m in members} >= {"md", "diff", "commands", "rollback", "html"}
            assert archive.read("%s/report.html" % name) == (tmp_path / "report.html").read_bytes()
            # Stored, not deflated: a scan of the folder reads the members' text in the archive itself.
            assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}


def test_a_fleets_machine_formats_written_by_a_forked_child_are_those_one_process_writes(tmp_path, monkeypatch):
    # 20 audited hosts: the report task writes findings.sarif and junit.xml in a forked child while it writes
    # report.md and report.html; the files are those of one process (DIFFSERV_SERIAL_PLANNING=1).
    from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
    from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact_data

    results, links = {}, []
    firewall = (EXAMPLE / "partner-fw.rules").read_text()
    router = (EXAMPLE / "border-router.cfg").read_text()
    for index in range(10):
        results["fw%02d" % index] = {"diffserv_collection": {"platform": "iptables", "files": [
            {"name": "iptables-save", "source": "fw%02d.rules" % index, "text": firewall}]}}
        results["rtr%02d" % index] = {"diffserv_collection": {"platform": "ios", "files": [
            {"name": "running-config", "source": "rtr%02d.cfg" % index, "text": router}]}}
        links.append({"from": "fw%02d:eth0" % index, "to": "rtr%02d:GigabitEthernet0/0" % index})
    fleet = loader.load_fleet(results, links)
    findings = analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes)
    assert len(findings.conflicts) >= 10
    files = {}
    for mode in ("1", ""):
        folder = tmp_path / ("serial" if mode else "forked")
        folder.mkdir()
        (folder / "findings.json").write_text(json.dumps(redact_data(findings.as_dict())))
        monkeypatch.setenv("DIFFSERV_SERIAL_PLANNING", mode)
        run = ansible("ansible", "localhost", "-m", "diffserv.audit.report", "-a", json.dumps({
            "findings_file": str(folder / "findings.json"), "formats": ["md", "html", "sarif", "junit"]}))
        assert run.returncode == 0, run.stdout + run.stderr
        files[mode] = {name: (folder / name).read_text().replace(str(folder), "FOLDER")
                       for name in ("report.md", "report.html", "findings.sarif", "junit.xml")}
    assert files["1"] == files[""]
    valid_sarif(tmp_path / "forked" / "findings.sarif")
