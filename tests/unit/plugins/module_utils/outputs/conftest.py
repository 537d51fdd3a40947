"""Findings to shape: every golden scenario of the join (tests/unit/.../fixtures/golden_findings)."""

import json
import pathlib

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "golden_findings"
SCENARIOS = sorted(path.stem for path in GOLDEN.glob("*.json") if not path.stem.endswith(".actual"))


def golden(name):
    return json.loads((GOLDEN / ("%s.json" % name)).read_text())


@pytest.fixture(params=SCENARIOS)
def scenario(request):
    return request.param, golden(request.param)
