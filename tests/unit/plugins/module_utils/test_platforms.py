"""The platform registry: every platform-specific answer comes from its driver."""

import pathlib
import re

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventories" / "example" / "files"


def test_each_driver_recognises_its_own_saved_files_and_not_the_others():
    assert platforms.detect((EXAMPLE / "partner-fw.rules").read_text()) == "iptables"
    assert platforms.detect((EXAMPLE / "border-router.cfg").read_text()) == "ios"
    assert platforms.detect("hello, world\n") is None
    for path in (ROOT / "tests" / "fixtures" / "real").rglob("*"):
        if path.suffix in (".ios", ".cfg", ".conf") and "truncated" not in path.name:
            text = path.read_text(errors="replace")
            assert platforms.detect(text) in ("ios", None), path


def test_roles_and_items_the_join_reads():
    iptables, ios = platforms.driver("iptables"), platforms.driver("ios")
    assert (iptables.role, ios.role) == (platforms.FIREWALL, platforms.ROUTER)
    assert iptables.saved_item_name(6) == "ip6tables-save" and ios.saved_item_name(6) == "running-config"
    assert [c.command for c in iptables.live_commands] == ["iptables-save", "ip6tables-save"]
    assert [c.command for c in ios.live_commands] == ["show running-config"]


def test_an_unknown_platform_is_named_with_the_known_ones():
    with pytest.raises(platforms.UnknownPlatform, match="unknown platform 'junos' \\(ios, iptables or nftables\\)"):
        platforms.driver("junos")


def test_check_refuses_a_cut_text_with_its_line():
    cut = (EXAMPLE / "partner-fw.rules").read_text().split("COMMIT")[0]
    with pytest.raises(ParseError, match=r"fw\.rules:\d+"):
        platforms.driver("iptables").check("iptables-save", cut, "fw.rules")


def test_no_module_outside_the_registry_asks_which_platform_a_host_is():
    # The architecture's promise: platform names are compared only inside platforms/.
    offenders = []
    for path in (ROOT / "plugins").rglob("*.py"):
        if "platforms" in path.parts or path.parent.name == "modules":
            continue
        for number, line in enumerate(path.read_text().split("\n"), 1):
            if re.search(r"platform\w*\s*[!=]=|[!=]=\s*[\"'](ios|iptables|nftables)[\"']", line):
                offenders.append("%s:%d: %s" % (path.relative_to(ROOT), number, line.strip()))
    assert offenders == []
