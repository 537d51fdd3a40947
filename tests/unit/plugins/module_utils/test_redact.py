"""Secrets never survive: every known form, including the ones netconan and Oxidized miss."""

import pathlib
import re

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact, redact_data, secrets_in

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "secrets-router.cfg"
SECRET_VALUES = [
    "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "0822455D0A16544541", "Sup3rS3cretPlain", "060506324F41584B56",
    "TacacsKeyPlain", "14141B180F0B7B7977", "110A1016141D5A5E57", "IsakmpPreShared123", "KeyringPSK456",
    "070C285F4D06", "094F471A1A0A", "HsrpKey789", "VrrpText321", "1511021F0725", "045802150C2E1D1C5A",
    "N0tS0Public", "HostCommunity42", "AuthPass111", "PrivPass222", "0822455D0A16",
    "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
]


def test_no_secret_value_survives_redaction():
    redacted = redact(FIXTURE.read_text())
    for value in SECRET_VALUES:
        assert value not in redacted, value
    assert secrets_in(redacted) == []


@pytest.mark.parametrize("line, kind", [
    ("snmp-server community private RW 99", "snmp-community"),   # netconan keeps this one
    ("snmp-server community public RO", "snmp-community"),
    ("ntp authentication-key 1 md5 0822455D0A16 7", "ntp-key"),  # Oxidized keeps this one
])
def test_reserved_words_and_ntp_keys_are_secrets_too(line, kind):
    assert "<redacted:%s#1>" % kind in redact(line)
    assert re.sub(r"<redacted:[a-z-]+#\d+>", "", redact(line)).split()[2] not in ("private", "public")


def test_everything_else_is_kept_byte_for_byte():
    text = FIXTURE.read_text()
    redacted = redact(text)
    assert len(redacted.split("\n")) == len(text.split("\n"))
    for before, after in zip(text.split("\n"), redacted.split("\n")):
        if "<redacted:" not in after:
            assert before == after
    assert "access-list 106 permit ip any any dscp 1" == redact("access-list 106 permit ip any any dscp 1")
    assert "ntp authenticate" in redacted and "key chain OSPF-KEYS" in redacted


def test_scan_finds_what_redaction_would_remove():
    found = {kind for _line, kind, _secret in secrets_in(FIXTURE.read_text())}
    assert {"enable-secret", "snmp-community", "ntp-key", "key-string", "isakmp-key", "bgp-password"} <= found


def test_structures_are_redacted_recursively():
    data = {"lines": ["snmp-server community private RO"], "text": "enable secret 5 abc\nhostname x"}
    assert redact_data(data) == {"lines": ["snmp-server community <redacted:snmp-community> RO"],
                                 "text": "enable secret 5 <redacted:enable-secret#1>\nhostname x"}


def test_private_key_blocks_are_removed():
    text = "crypto pki key private\n -----BEGIN RSA PRIVATE KEY-----\n MIIEow\n -----END RSA PRIVATE KEY-----\nend"
    assert "MIIEow" not in redact(text) and redact(text).endswith("end")


@pytest.mark.parametrize("line", [
    "authentication failed for netops@127.0.0.1:22", "ip ospf authentication message-digest",
    "key chain OSPF-KEYS", " key 1", "service password-encryption", "no service password-recovery",
])
def test_lines_that_only_talk_about_secrets_are_kept(line):
    assert redact(line) == line


def test_virtual_link_authentication_key_anywhere_on_the_line():
    assert "S3cret" not in redact(" area 0 virtual-link 192.0.2.1 authentication-key 7 S3cret")


def test_distinct_secrets_keep_lines_distinct_and_equal_ones_equal():
    text = "snmp-server community public RO\nsnmp-server community other RO\nsnmp-server community public RW"
    lines = redact(text).split("\n")
    assert lines == ["snmp-server community <redacted:snmp-community#1> RO",
                     "snmp-server community <redacted:snmp-community#2> RO",
                     "snmp-server community <redacted:snmp-community#1> RW"]
    assert redact(redact(text)) == redact(text)
