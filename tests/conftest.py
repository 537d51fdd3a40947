"""Make the collection importable as ansible_collections.diffserv.audit from a checkout."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


# ---------------------------------------------------------------------------
# Every findings.json a test makes the collection write is checked against the published schema
# (docs/findings.schema.json): the schema is a promise to pipelines, so no test may see a file
# that breaks it, whatever the test itself asserts.

import json  # noqa: E402

import jsonschema  # noqa: E402
import pytest  # noqa: E402

SCHEMA = json.loads((ROOT / "docs" / "findings.schema.json").read_text())
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
_CHECKED: set = set()


def findings_problems(path):
    """The schema's complaints about one findings.json, as readable lines (empty: valid)."""
    data = json.loads(pathlib.Path(path).read_text())
    return ["%s: %s" % ("/".join(str(p) for p in error.absolute_path) or "(top)", error.message[:300])
            for error in _VALIDATOR.iter_errors(data)]


@pytest.fixture(autouse=True)
def _findings_follow_the_schema(request, tmp_path_factory):
    yield
    writes_files = (request.node.get_closest_marker("playbook") or request.node.get_closest_marker("lab")
                    or "tmp_path" in request.fixturenames)
    if not writes_files:
        return
    for path in tmp_path_factory.getbasetemp().rglob("findings.json"):
        if path in _CHECKED:
            continue
        _CHECKED.add(path)
        problems = findings_problems(path)
        if problems:
            pytest.fail("%s does not follow docs/findings.schema.json:\n  %s" % (path, "\n  ".join(problems[:10])))
