"""One host's trouble stays that host's: every core stage, fed one host that raises, still reports the others."""

import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import analysis, loader
from ansible_collections.diffserv.audit.plugins.module_utils.platforms import ios as ios_driver
from ansible_collections.diffserv.audit.plugins.module_utils.platforms import iptables as iptables_driver
from ansible_collections.diffserv.audit.plugins.module_utils.errors import QUOTE_LIMIT

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventories" / "example" / "files"
PARTNER = (EXAMPLE / "partner-fw.rules").read_text()
BORDER = (EXAMPLE / "border-router.cfg").read_text()
LINKS = [{"from": "fw-a:eth0", "to": "rtr-a:GigabitEthernet0/0"},
         {"from": "fw-b:eth0", "to": "rtr-b:GigabitEthernet0/0"}]


def collected(platform, text, name=None, source=None):
    name = name or ("running-config" if platform == "ios" else "iptables-save")
    return {"diffserv_collection": {"platform": platform, "managed": True, "files": [
        {"name": name, "source": source or "%s.txt" % name, "text": text}]}}


def fleet_results(**overrides):
    results = {"fw-a": collected("iptables", PARTNER, source="fw-a.rules"),
               "fw-b": collected("iptables", PARTNER, source="fw-b.rules"),
               "rtr-a": collected("ios", BORDER, source="rtr-a.cfg"),
               "rtr-b": collected("ios", BORDER, source="rtr-b.cfg")}
    results.update(overrides)
    return results


def audit(results, links=LINKS):
    fleet = loader.load_fleet(results, links)
    return analysis.analyze(fleet.firewalls, fleet.routers, fleet.links, fleet.errors, fleet.notes).as_dict()


def conflict_pairs(findings):
    return {(c["marker"]["host"], c["treatment"]["host"]) for c in findings["conflicts"]}


def test_both_pairs_conflict_when_nothing_fails():
    findings = audit(fleet_results())
    assert conflict_pairs(findings) == {("fw-a", "rtr-a"), ("fw-b", "rtr-b")}
    assert findings["errors"] == []


def test_an_icmpv6_marking_rule_is_analysed_not_a_lost_run():
    # A valid rule iptables-restore accepts: protocol 58 in an IPv4 table.  It used to fail the
    # whole analyse step with "packet: unknown protocol 'icmpv6'".
    text = PARTNER.replace("-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535",
                           "-A POSTROUTING -o eth0 -p ipv6-icmp -j TOS --set-tos 0x04\n"
                           "-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535")
    findings = audit(fleet_results(**{"fw-a": collected("iptables", text, source="fw-a.rules")}))
    assert findings["errors"] == []
    icmp = [c for c in findings["conflicts"] if c["marker"]["host"] == "fw-a" and "ipv6-icmp" in c["marker"]["rule"]]
    assert icmp and icmp[0]["treatment"]["action"] == "null-routed"
    assert icmp[0]["treatment"]["example_packet"]["protocol"] == 58


def test_a_refused_file_fails_its_host_and_its_link_is_a_note_not_a_second_error():
    broken = PARTNER.replace("COMMIT", "", 1)  # a table without COMMIT: truncated
    findings = audit(fleet_results(**{"fw-a": collected("iptables", broken, source="fw-a.rules")}))
    assert [e["host"] for e in findings["errors"]] == ["fw-a"]
    (error,) = findings["errors"]
    assert "fw-a.rules:" in error["reason"] and "COMMIT" in error["reason"]
    assert error["links"] == ["diffserv_links[0] (fw-a:eth0 -> rtr-a:GigabitEthernet0/0) not analysed: this host failed"]
    assert conflict_pairs(findings) == {("fw-b", "rtr-b")}


def test_a_failed_collection_is_reported_with_its_reason_bounded():
    results = fleet_results(**{"rtr-a": {"diffserv_error": "no route to host " + "x" * 10000, "unreachable": True}})
    findings = audit(results)
    (error,) = findings["errors"]
    assert error["host"] == "rtr-a" and error["unreachable"] and len(error["reason"]) < 2100
    assert conflict_pairs(findings) == {("fw-b", "rtr-b")}


class Boom(RuntimeError):
    pass


def raising_for(host_attr, host, real):
    """`real`, except that it raises for the one host whose input names `host`."""
    def stage(first, *args, **kwargs):
        if host_attr(first, *args, **kwargs) == host:
            raise Boom("modelling gap in %s " % host + "y" * 5000)
        return real(first, *args, **kwargs)
    return stage


@pytest.mark.parametrize("module, name, host_attr, bad, stage_words", [
    (ios_driver, "parse_ios", lambda text, source, *a, **k: source.split(".")[0], "rtr-a", "loading rtr-a"),
    (iptables_driver, "parse_dumps", lambda text, source, *a, **k: source.split(".")[0], "fw-a", "loading fw-a"),
    (iptables_driver, "marking_map", lambda ruleset, *a, **k: ruleset.file.split(".")[0], "fw-b", "loading fw-b"),
    (analysis, "transit_tables", lambda config, *a, **k: config.file.split(".")[0], "rtr-b", "fate tables of rtr-b"),
    (analysis, "conflicts_on_link", lambda link, *a, **k: link.firewall, "fw-a", "joining fw-a:eth0"),
    (analysis, "router_advisories", lambda router, *a, **k: router.host, "rtr-a", "advisories on rtr-a"),
    (analysis, "firewall_advisories", lambda firewall, *a, **k: firewall.host, "fw-b", "advisories on fw-b"),
    (analysis, "unused_definitions", lambda config, *a, **k: config.file.split(".")[0], "rtr-b", "unused definitions on rtr-b"),
])
def test_every_core_stage_that_raises_for_one_host_leaves_the_others_reported(monkeypatch, module, name, host_attr, bad,
                                                                                stage_words):
    if not hasattr(module, name):
        pytest.fail("%s.%s is gone: the stage list of this test must follow the code" % (module.__name__, name))
    monkeypatch.setattr(module, name, raising_for(host_attr, bad, getattr(module, name)))
    findings = audit(fleet_results())
    errors = [e for e in findings["errors"] if e["host"] == bad]
    assert len(errors) == 1, findings["errors"]
    assert stage_words in errors[0]["stage"] and "Boom" in errors[0]["reason"]
    assert "internal error" in errors[0]["reason"]
    assert max(len(line) for line in errors[0]["reason"].split("\n")) <= 2 * QUOTE_LIMIT + 60
    # The other pair is still analysed: its conflict is there, whatever stage failed for `bad`.
    other = ("fw-b", "rtr-b") if bad in ("fw-a", "rtr-a") else ("fw-a", "rtr-a")
    assert other in conflict_pairs(findings)
    assert findings["summary"]["errors"] == len(findings["errors"])


def test_links_given_empty_join_nothing_and_say_so_while_no_links_assume_every_path():
    from ansible_collections.diffserv.audit.plugins.module_utils import analysis

    results = {"fw": collected("iptables", PARTNER), "rtr": collected("ios", BORDER)}
    given_none = loader.load_fleet(results, [])
    assert given_none.links == [] and [e["stage"] for e in given_none.errors] == ["links"]
    assert "nothing was joined" in given_none.errors[0]["reason"]
    assert analysis.analyze(given_none.firewalls, given_none.routers, given_none.links).conflicts == ()
    assumed = loader.load_fleet(results, None)
    assert assumed.links is None and assumed.errors == []
    assert analysis.analyze(assumed.firewalls, assumed.routers, assumed.links).conflicts
