"""The DS byte and its readings (RFC 791, 1349, 2474, 3168, 8622)."""

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import dsfield


@pytest.mark.parametrize("byte, dscp, ecn, precedence, tos4", [
    (0x04, 1, 0, 0, 2),     # RFC 1349 maximize reliability is DSCP 1 (LE)
    (0x08, 2, 0, 0, 4),     # maximize throughput
    (0x10, 4, 0, 0, 8),     # minimize delay
    (0x02, 0, 2, 0, 1),     # minimize cost claims ECT(0)
    (0xB8, 46, 0, 5, 12),   # EF
    (0x07, 1, 3, 0, 3),
    (0xFF, 63, 3, 7, 15),
])
def test_byte_readings(byte, dscp, ecn, precedence, tos4):
    ds = dsfield.DSByte(byte)
    assert (ds.dscp, ds.ecn, ds.precedence, ds.tos4) == (dscp, ecn, precedence, tos4)
    assert dsfield.byte_of(dscp, ecn) == byte


def test_byte_out_of_range_is_refused():
    with pytest.raises(dsfield.DSFieldError):
        dsfield.DSByte(256)
    with pytest.raises(dsfield.DSFieldError):
        dsfield.byte_of(64)


@pytest.mark.parametrize("dscp, pool", [(0, 1), (46, 1), (3, 2), (63, 2), (1, 3), (45, 3), (13, 3)])
def test_pools(dscp, pool):
    assert dsfield.dscp_pool(dscp) == pool


def test_every_registry_name_has_its_codepoint():
    expected = {"CS0": 0, "CS1": 8, "CS2": 16, "CS3": 24, "CS4": 32, "CS5": 40, "CS6": 48, "CS7": 56,
                "AF11": 10, "AF12": 12, "AF13": 14, "AF21": 18, "AF22": 20, "AF23": 22, "AF31": 26,
                "AF32": 28, "AF33": 30, "AF41": 34, "AF42": 36, "AF43": 38, "VOICE-ADMIT": 44, "EF": 46,
                "LE": 1, "NQB": 45}
    assert dsfield.DSCP_NAMES == expected
    # Pool 1 names are even, pool 3 assignments odd with low bits 01.
    assert all(dsfield.dscp_pool(v) == (3 if n in ("LE", "NQB") else 1) for n, v in expected.items())


@pytest.mark.parametrize("text, value", [
    ("af11", 10), ("AF11", 10), ("cs1", 8), ("CS1", 8), ("ef", 46), ("EF", 46), ("default", 0),
    ("le", 1), ("1", 1), ("0x2e", 46), ("46", 46), (" 3 ", 3), ("va", 44),
])
def test_dscp_spellings(text, value):
    assert dsfield.parse_dscp(text) == value


@pytest.mark.parametrize("text", ["64", "af14", "-1", "", "0x40", "ef2"])
def test_bad_dscp_spellings_are_errors(text):
    with pytest.raises(dsfield.DSFieldError):
        dsfield.parse_dscp(text)


@pytest.mark.parametrize("text, spec", [
    ("0x04", (0x04, 0xFF)), ("4", (4, 0xFF)), ("0x04/0xff", (0x04, 0xFF)), ("0x10/0x3f", (0x10, 0x3F)),
    ("Minimize-Delay", (0x10, 0x3F)), ("maximize-reliability", (0x04, 0x3F)), ("Minimize-Cost", (0x02, 0x3F)),
    ("Normal-Service", (0x00, 0x3F)), ("Maximize-Throughput", (0x08, 0x3F)), ("010", (8, 0xFF)),
])
def test_tos_spellings(text, spec):
    assert dsfield.parse_tos_spec(text) == spec


def test_tos_value_over_a_byte_is_refused():
    with pytest.raises(dsfield.DSFieldError):
        dsfield.parse_tos_spec("0x100")


def test_rfc1349_values_never_produce_dscp_3():
    produced = dsfield.dscps_from_rfc1349()
    assert 1 in produced and 4 in produced and 2 in produced
    assert 3 not in produced
    assert produced == frozenset(8 * p + d for p in range(8) for d in (0, 1, 2, 4))


def test_rewrite_semantics_match_the_kernel_reference():
    # semantics.md: mask 0xff clears precedence, a name keeps the top two bits, DSCP keeps ECN
    assert dsfield.TosRewrite(0x04, 0xFF).apply(0xB9) == 0x04
    assert dsfield.TosRewrite(0x04, 0x3F).apply(0xBB) == 0x84
    assert dsfield.TosRewrite(0x00, 0x03).apply(0xBB) == 0xB8  # --and-tos 0xfc
    assert dsfield.dscp_rewrite(1).apply(0x03) == 0x07


def test_legacy_tos_keeps_precedence_clears_ecn_and_writes_only_on_change():
    assert dsfield.legacy_tos_apply(0xBB, 0x04) == 0xA4
    assert dsfield.legacy_tos_apply(0x05, 0x04) == 0x05  # TOS bits already 0x04: left alone


def test_describe_names_the_codepoint():
    assert dsfield.describe_byte(0x04) == "0x04 = DSCP 1 (LE), ECN Not-ECT"
    assert dsfield.describe_byte(0x0E) == "0x0e = DSCP 3 (pool 2, unassigned), ECN ECT(0)"
