"""The examples in the docstrings run, and say what the code does.

pytest.ini's testpaths is `tests`, so `--doctest-modules` never reaches plugins/; and pytest importing
plugins/module_utils/dsfield.py by its path would give a second copy of each module (its classes not
the ones `ansible_collections.diffserv.audit...` imports). Here every module is imported by its
collection name (tests/conftest.py puts the checkout on sys.path as that package) and doctest runs
over it. Every `>>>` line in a module's source must be an example doctest found and ran: an example
in a docstring doctest cannot see (a comment, a nested string) is an example nobody checks.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = "ansible_collections.diffserv.audit"
TREES = ("plugins/module_utils", "plugins/plugin_utils")
# Modules that carry examples today: if discovery ever finds none of them, the test is looking in the
# wrong place, not proving the examples right.
KNOWN = ("plugins/module_utils/dsfield.py", "plugins/module_utils/errors.py", "plugins/module_utils/redact.py",
         "plugins/module_utils/textdecode.py", "plugins/module_utils/netfilter/markmap.py",
         "plugins/module_utils/ios/acl.py", "plugins/module_utils/ios/fates.py", "plugins/module_utils/ios/model.py",
         "plugins/module_utils/ios/parse.py", "plugins/module_utils/ios/trace.py",
         "plugins/module_utils/remediation/iptables.py", "plugins/plugin_utils/hier.py")


def sources() -> list[str]:
    return sorted(str(path.relative_to(ROOT)) for tree in TREES for path in (ROOT / tree).rglob("*.py"))


def module_name(source: str) -> str:
    parts = pathlib.PurePosixPath(source).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE,) + parts)


def written_examples(source: str) -> int:
    """How many examples the file's text holds: one `>>>` line each (continuations are `...`)."""
    return sum(1 for line in (ROOT / source).read_text(encoding="utf-8").splitlines()
               if line.strip() == ">>>" or line.strip().startswith(">>> "))


def test_discovery_sees_the_modules_known_to_carry_examples():
    found = sources()
    assert set(KNOWN) <= set(found)
    assert all(written_examples(source) > 0 for source in KNOWN)


@pytest.mark.parametrize("source", sources())
def test_every_example_in_the_module_runs_and_holds(source):
    module = importlib.import_module(module_name(source))
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(verbose=False)
    report: list[str] = []
    for test in finder.find(module, module.__name__):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
    assert results.attempted == written_examples(source), (
        "%s has %d '>>>' lines but doctest ran %d examples: an example outside a docstring of this module "
        "is never checked" % (source, written_examples(source), results.attempted))
