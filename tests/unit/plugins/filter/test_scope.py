"""links_within / links_outside: the links of a run limited to some hosts; stored_collections' records."""

from ansible_collections.diffserv.audit.plugins.action.stored_collections import file_for, records
from ansible_collections.diffserv.audit.plugins.filter.scope import FilterModule, links_outside, links_within

LINKS = [{"from": "fw1:eth0", "to": "rtr1:Gi0/0"}, {"from": "fw2:eth0", "to": "rtr1:Gi0/1"},
         {"from": "fw1:eth1", "to": "rtr2:Gi0/0"}]


def test_a_link_stays_only_when_both_ends_are_audited():
    assert links_within(LINKS, ["fw1", "rtr1", "fw9"]) == [LINKS[0]]
    assert links_within(LINKS, []) == [] and links_within(None, ["fw1"]) == []
    assert links_within(LINKS, ["fw1", "fw2", "rtr1", "rtr2"]) == LINKS


def test_the_links_left_out_name_the_host_outside():
    assert links_outside(LINKS, ["fw1", "rtr1"]) == [
        "fw2:eth0 -> rtr1:Gi0/1: not audited (fw2 outside the hosts this run selects)",
        "fw1:eth1 -> rtr2:Gi0/0: not audited (rtr2 outside the hosts this run selects)"]
    assert links_outside(LINKS, ["rtr1"])[0].endswith("(fw1 outside the hosts this run selects)")
    assert links_outside(LINKS, ["fw1", "fw2", "rtr1", "rtr2"]) == []
    assert set(FilterModule().filters()) == {"links_within", "links_outside"}


def test_each_host_keeps_one_record_of_what_its_collection_gave():
    batch = {"collections": {"fw1": {"platform": "iptables", "files": []}},
             "errors": {"rtr1": {"host": "rtr1", "reason": "refused", "unreachable": True}},
             "not_audited": {"sw1": "no platform"}}
    assert records(batch) == {"fw1": {"collection": {"platform": "iptables", "files": []}},
                              "rtr1": {"error": {"host": "rtr1", "reason": "refused", "unreachable": True}},
                              "sw1": {"not_audited": "no platform"}}
    assert file_for("/d", "../etc/passwd") == "/d/.._etc_passwd.json"
