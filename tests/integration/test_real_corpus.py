"""The audit on a corpus of public, real configurations nobody on this team wrote (tests/fixtures/real).

One ansible-playbook run audits every file of the corpus as a host of its own; then, per file:
- a valid file is analysed (no entry under `errors`);
- a broken one is under `errors`, its reason naming the file and the line the manifest expects;
- every DSCP-relevant line of a valid file (DSCP_WORDS_IOS / _IPTABLES_RELEVANT below) is either
  understood by the model (the parser kept it, with its file:line, as something it knows how to
  evaluate) or listed under `unmodeled` with its file:line: never silently dropped.
As root, the manifest's claims about what the kernel tools accept are checked again.
"""

import dataclasses
import functools
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.ios import model as iosmodel
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter import parse as nfparse
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.evaluate import TosSetCond
from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
CORPUS = ROOT / "tests" / "fixtures" / "real"
MANIFEST = yaml.safe_load((CORPUS / "manifest.yml").read_text())["files"]
pytestmark = pytest.mark.playbook

VALID = sorted(name for name, entry in MANIFEST.items() if entry["valid"])
BROKEN = sorted(name for name, entry in MANIFEST.items() if not entry["valid"])
FIREWALLS = sorted(name for name, entry in MANIFEST.items() if entry["platform"] == "iptables")

# ---------------------------------------------------------------- what "DSCP-relevant" means
# IOS: a line is relevant when one of its words (lower-cased) is one of these, or starts with
# (set-)dscp/prec/tos/cos/qos followed by '-' (set-dscp-transmit, qos-group, dscp-cos, ...), or it
# attaches policy routing (`ip policy route-map`, `ip local policy route-map`), or it is interface
# CAR (`rate-limit input|output ...`; `logging rate-limit` and `ip icmp rate-limit` are not).
# `mls qos statistics-export ...` only exports counters: not relevant.
DSCP_WORDS_IOS = frozenset((
    "dscp", "tos", "precedence", "cos", "qos", "ecn", "service-policy", "police",
    "set-dscp-transmit", "set-prec-transmit", "set-cos-transmit", "set-qos-transmit",
))
_IOS_PREFIX = re.compile(r"^(set-)?(dscp|prec|precedence|tos|cos|qos)-")
_IOS_IGNORED_FIRST = frozenset(("description", "remark", "!"))
# iptables: a TOS/DSCP/ECN match or target, or any --*tos/--*dscp option (quoted strings, i.e.
# comments and log prefixes, removed first).
_IPTABLES_RELEVANT = re.compile(
    r"(?:^|\s)(?:-m\s+(?:tos|dscp|ecn)\b|-j\s+(?:TOS|DSCP|ECN)\b|--(?:set-|and-|or-|xor-)?(?:tos|dscp)(?:-class)?\b)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def host_of(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def ios_relevant_lines(text):
    """{line number: text} of the DSCP-relevant lines of an IOS file (banners skipped)."""
    found = {}
    delimiter = None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if delimiter is not None:
            if delimiter in line:
                delimiter = None
            continue
        if not line:
            continue
        words = line.split()
        if words[0] == "banner":
            rest = line.split(None, 1)[1] if len(words) > 1 else ""
            if len(words) > 1 and words[1] in ("motd", "login", "exec", "incoming", "slip-ppp",
                                               "prompt-timeout", "config-save"):
                rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
            if rest:
                mark = "^C" if rest.startswith("^C") else rest[0]
                if mark not in rest[len(mark):]:
                    delimiter = mark
            continue
        if words[0] in _IOS_IGNORED_FIRST or line.startswith("!"):
            continue
        lowered = [w.lower() for w in words]
        if "statistics-export" in lowered:
            continue
        if (any(w in DSCP_WORDS_IOS or _IOS_PREFIX.match(w) for w in lowered)
                or lowered[0] == "rate-limit"
                or lowered[:3] == ["ip", "policy", "route-map"]
                or lowered[:4] == ["ip", "local", "policy", "route-map"]):
            found[number] = line
    return found


def iptables_relevant_lines(text):
    found = {}
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line.startswith(("-", "[")):
            continue
        if _IPTABLES_RELEVANT.search(_QUOTED.sub('""', line)):
            found[number] = line
    return found


def nft_relevant_lines(text):
    """nft lines that name the DS field (`ip dscp`, `ip6 dscp`, in a match, a set or a `set` statement)."""
    return {number: raw.strip() for number, raw in enumerate(text.split("\n"), 1)
            if "dscp" in raw and not raw.strip().startswith("#")}


def nft_understood_lines(document):
    """Lines whose rule the nft reader made into a DS write or a DS match, in any family's view."""
    understood = set()
    for family in document.families():
        view = document.view(family)
        for table in view.tables.values():
            for chain in table.chains:
                for rule in table.rules(chain):
                    if isinstance(rule.target, (nfparse.SetTos, nfparse.SetDscp)) or any(
                            isinstance(c, (nfparse.TosCond, TosSetCond)) for c in rule.conditions):
                        understood.add(rule.line)
    return understood


# ---------------------------------------------------------------- what "understood" means
def _evidence_objects(value, found, seen):
    """Every model object that carries its source line (`source: Evidence`), by line."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for item in value.values():
            _evidence_objects(item, found, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _evidence_objects(item, found, seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        source = getattr(value, "source", None)
        if isinstance(source, iosmodel.Evidence):
            found.setdefault(source.line, []).append(value)
        for field in dataclasses.fields(value):
            _evidence_objects(getattr(value, field.name), found, seen)


_IOS_DS_ACL_WORDS = frozenset(("dscp", "precedence", "tos", "ecn"))


def ios_understood_lines(config, relevant):
    """Relevant lines the model holds as something it evaluates (a kind other than `unknown`).

    An access-list entry whose line names a DS field counts only if the entry tests the DS byte
    (or kept what it could not read as `unknown`, which comes with a diagnostic anyway).
    """
    by_line = {}
    _evidence_objects(config, by_line, set())
    understood = set()
    for number, text in relevant.items():
        for obj in by_line.get(number, ()):
            if getattr(obj, "kind", None) == "unknown":
                continue
            if isinstance(obj, iosmodel.AclEntry):
                words = set(text.lower().split())
                if words & _IOS_DS_ACL_WORDS and not (obj.tests_ds or obj.unknown):
                    continue
            understood.add(number)
            break
    return understood


def iptables_understood_lines(ruleset):
    understood = set()
    for table in ruleset.tables.values():
        for rules in table.parsed().values():
            for rule in rules:
                if isinstance(rule.target, (nfparse.SetTos, nfparse.SetDscp)) or any(
                        isinstance(c, nfparse.TosCond) for c in rule.conditions):
                    understood.add(rule.line)
    return understood


# ---------------------------------------------------------------- the one audit run
@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    work = tmp_path_factory.mktemp("real-corpus")
    groups = {"linux_firewalls": {"hosts": {}}, "ios_routers": {"hosts": {}}}
    for name, entry in MANIFEST.items():
        group = "ios_routers" if entry["platform"] == "ios" else "linux_firewalls"
        groups[group]["hosts"][host_of(name)] = {"diffserv_config_file": str(CORPUS / name)}
    (work / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": groups}}))
    report = work / "report"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"))
    run = subprocess.run([str(BIN / "ansible-playbook"), "diffserv.audit.audit", "-i", str(work / "hosts.yml"),
                          "-e", "diffserv_report_dir=%s" % report, "-e", "diffserv_write_bundles=false"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    path = report / "findings.json"
    assert path.exists(), "no findings.json (exit %d)\n%s\n%s" % (run.returncode, run.stdout[-4000:],
                                                                 run.stderr[-4000:])
    return json.loads(path.read_text())


def errors_by_host(findings):
    return {e["host"]: e.get("reason", "") for e in findings["errors"]}


def test_manifest_lists_every_corpus_file_and_only_those():
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES"} - {
        "README.md", "manifest.yml"}
    assert on_disk == set(MANIFEST)
    readme = (CORPUS / "README.md").read_text()
    assert [name for name in MANIFEST if "`%s`" % name not in readme] == []


def test_the_audit_reports_every_host(findings):
    """Each host shows up: analysed, refused, not audited, or with a note (IPv6 dumps, today)."""
    reported = set(findings["summary"]["firewalls"]) | set(findings["summary"]["routers"]) | \
        set(errors_by_host(findings)) | {n.get("host") for n in findings.get("not_audited", [])} | \
        {u.get("host") for u in findings["unmodeled"]}
    assert sorted({host_of(name) for name in MANIFEST} - reported) == []


@pytest.mark.parametrize("name", [n for n in FIREWALLS if MANIFEST[n]["valid"]])
def test_saved_dump_is_read_in_its_own_family(name):
    """A saved file is read as collect reads it (no family given): IPv6 rules must be read as IPv6."""
    try:
        _text, ruleset = _parse(name)
    except DiffservError as error:
        pytest.fail("the parser refuses %s: %s" % (name, error))
    assert ruleset.family == MANIFEST[name]["family"], "%s read as IPv%d, it is an ip%stables dump" % (
        name, ruleset.family, "6" if MANIFEST[name]["family"] == 6 else "")


@pytest.mark.parametrize("name", VALID)
def test_valid_file_is_analysed(findings, name):
    errors = errors_by_host(findings)
    assert host_of(name) not in errors, "%s refused: %s" % (name, errors.get(host_of(name)))


@pytest.mark.parametrize("name", BROKEN)
def test_broken_file_is_refused_with_its_line(findings, name):
    expected = MANIFEST[name]["error"]
    errors = errors_by_host(findings)
    assert host_of(name) in errors, "%s was analysed, expected an error at line %d" % (name, expected["line"])
    reason = errors[host_of(name)]
    assert "%s:%d:" % (CORPUS / name, expected["line"]) in reason, reason
    if expected.get("contains"):
        assert expected["contains"] in reason, reason


@functools.lru_cache(maxsize=None)
def _parse(name):
    path = CORPUS / name
    text = read_text(str(path))
    if MANIFEST[name]["platform"] == "ios":
        return text, parse_ios(text, str(path))
    if MANIFEST[name]["platform"] == "nftables":
        return text, read_ruleset(text, str(path))
    return text, nfparse.parse_ruleset(text, str(path))


@pytest.mark.parametrize("name", VALID)
def test_every_dscp_relevant_line_is_understood_or_listed_unmodeled(findings, name):
    try:
        text, parsed = _parse(name)
    except DiffservError as error:
        pytest.fail("the parser refuses %s, so none of its lines can be checked: %s" % (name, error))
    path = str(CORPUS / name)
    if MANIFEST[name]["platform"] == "ios":
        relevant = ios_relevant_lines(text)
        understood = ios_understood_lines(parsed, relevant)
    elif MANIFEST[name]["platform"] == "nftables":
        relevant = nft_relevant_lines(text)
        understood = nft_understood_lines(parsed)
    else:
        relevant = iptables_relevant_lines(text)
        try:
            understood = iptables_understood_lines(parsed)
        except DiffservError as error:
            pytest.fail("a table of %s the audit does not read at load fails to parse: %s" % (name, error))
    unmodeled = {u["line"] for u in findings["unmodeled"] if u["file"] == path}
    dropped = ["%s:%d: %s" % (name, number, line) for number, line in sorted(relevant.items())
               if number not in understood and number not in unmodeled]
    assert dropped == [], "DSCP-relevant lines neither understood nor listed as unmodeled:\n" + "\n".join(dropped)


# ---------------------------------------------------------------- the kernel as the judge
def _restore(tool, path):
    namespace = "corpus%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", namespace], check=True, capture_output=True)
    try:
        with open(path, "rb") as handle:
            return subprocess.run(["ip", "netns", "exec", namespace, tool, "--test"], stdin=handle,
                                  capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


@pytest.mark.kernel
@pytest.mark.parametrize("name", FIREWALLS)
def test_manifest_validity_matches_what_the_kernel_tools_accept(name):
    if os.geteuid() != 0:
        pytest.skip("needs root: iptables-restore --test runs in a network namespace")
    entry = MANIFEST[name]
    base = "ip6tables" if entry["family"] == 6 else "iptables"
    for backend in ("legacy", "nft"):
        tool = "%s-%s-restore" % (base, backend)
        result = _restore(tool, CORPUS / name)
        accepted = result.returncode == 0
        assert accepted == entry["valid"], "%s --test on %s: exit %d, manifest says valid=%s\n%s" % (
            tool, name, result.returncode, entry["valid"], result.stderr)
        claim = entry["restore_test"][backend]
        assert (claim == "accepted") == accepted, (tool, name, claim, result.stderr)
        if not accepted:
            assert re.search(r"\bline:? %d\b" % entry["restore_test"]["line"], result.stderr), (tool, result.stderr)
