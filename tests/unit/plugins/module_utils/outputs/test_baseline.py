"""outputs.baseline: conflicts matched by meaning across two audits."""

import copy

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.outputs.baseline import BaselineError, compare

from .conftest import golden


def test_the_same_findings_are_all_unchanged(scenario):
    _name, findings = scenario
    diff = compare(findings, findings, "same.json")
    assert diff["counts"] == {"new": 0, "resolved": 0, "unchanged": len(findings["conflicts"])}


def test_lines_that_moved_are_the_same_conflicts():
    before = golden("founding")
    after = copy.deepcopy(before)
    for conflict in after["conflicts"]:
        conflict["marker"]["line"] += 7
        for line in conflict["treatment"]["lines"]:
            line["line"] += 3
    diff = compare(before, after, "before.json")
    assert diff["counts"] == {"new": 0, "resolved": 0, "unchanged": 3}
    assert [entry["line"] for entry in diff["unchanged"]] == [42, 30, 32]  # as they are now


def test_a_fixed_rule_is_resolved_and_a_new_one_new():
    before = golden("founding")
    after = copy.deepcopy(before)
    fixed = after["conflicts"].pop(1)
    added = copy.deepcopy(after["conflicts"][0])
    added["marker"]["rule"] = added["marker"]["rule"].replace("512:65535", "1024:65535")
    after["conflicts"].append(added)
    diff = compare(before, after, "before.json")
    assert diff["counts"] == {"new": 1, "resolved": 1, "unchanged": 2}
    assert diff["resolved"][0]["rule"] == fixed["marker"]["rule"] and diff["resolved"][0]["line"] == 23
    assert "1024:65535" in diff["new"][0]["rule"]


@pytest.mark.parametrize("field, value", [("dscp", 2), ("action", "dropped"), ("interface", "Gi0/9"), ("router", "rtr9")])
def test_another_router_interface_dscp_or_fate_is_another_conflict(field, value):
    before = golden("founding")
    after = copy.deepcopy(before)
    target = after["conflicts"][0]
    if field == "dscp":
        target["dscp"] = value
    elif field == "router":
        target["treatment"]["host"] = value
    else:
        target["treatment"][field] = value
    assert compare(before, after, "b")["counts"] == {"new": 1, "resolved": 1, "unchanged": 2}


def test_spaces_in_the_rule_text_do_not_matter_but_a_duplicate_rule_counts_twice():
    before = golden("founding")
    after = copy.deepcopy(before)
    after["conflicts"][0]["marker"]["rule"] = "  " + after["conflicts"][0]["marker"]["rule"].replace(" ", "   ")
    after["conflicts"].append(copy.deepcopy(before["conflicts"][0]))
    assert compare(before, after, "b")["counts"] == {"new": 1, "resolved": 0, "unchanged": 3}


@pytest.mark.parametrize("earlier, said", [
    ([], "not a findings.json"), ({"summary": {}}, "no 'conflicts' list"),
    ({"conflicts": [{"dscp": 1}]}, "conflicts[0] is not a conflict"),
])
def test_a_file_that_is_not_findings_is_refused_by_name(earlier, said):
    with pytest.raises(BaselineError, match=r"old\.json: .*") as raised:
        compare(earlier, golden("founding"), "old.json")
    assert said in str(raised.value)


def test_findings_with_their_baseline_follow_the_published_schema():
    import json
    import pathlib

    import jsonschema

    schema = json.loads((pathlib.Path(__file__).resolve().parents[5] / "docs" / "findings.schema.json").read_text())
    before = golden("founding")
    after = copy.deepcopy(before)
    after["conflicts"].pop()
    after["baseline"] = compare(before, after, "before/findings.json")
    jsonschema.Draft202012Validator(schema).validate(after)
    after["baseline"]["new"] = [{"rule": "x"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(after)
