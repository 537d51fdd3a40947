"""Secrets never survive: every known form, including the ones netconan and Oxidized miss."""

import dataclasses
import pathlib
import re

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import redact as redact_module
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact, redact_data, redact_line, secrets_in

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


# ---------------------------------------------------------------------------
# Secrets as a property: a router holding a secret in every IOS/IOS-XE place, the partner's dump
# with secrets in comments and string matches.  Each .values file lists every secret value once.

SECRETS = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "secrets"
ROUTER = SECRETS / "router-every-secret.cfg"
FIREWALL = SECRETS / "firewall-secrets.rules"
MARK_RE = re.compile(r"<redacted:[a-z0-9-]+(?:#\d+)?>")


def _values(path):
    return [value for value in path.read_text().split("\n") if value]


@pytest.mark.parametrize("fixture", [ROUTER, FIREWALL], ids=["router", "firewall"])
def test_every_secret_value_is_gone_and_every_line_stays_in_place(fixture):
    text = fixture.read_text()
    values = _values(fixture.with_suffix(".values"))
    assert len(values) >= (90 if fixture is ROUTER else 4)
    assert all(value in text for value in values)  # the fixture really holds them
    redacted = redact(text)
    assert [value for value in values if value in redacted] == []
    assert len(redacted.split("\n")) == len(text.split("\n"))
    assert secrets_in(redacted) == []
    assert redact(redacted) == redacted
    for before, after in zip(text.split("\n"), redacted.split("\n")):
        # each mark stands for a piece of its own line: the rest of the line is kept byte for byte
        pattern = "(.+?)".join(re.escape(part) for part in MARK_RE.split(after))
        assert re.fullmatch(pattern, before), (before, after)


def test_the_scan_finds_every_value_redaction_removes():
    found = {secret for _line, _kind, secret in secrets_in(ROUTER.read_text())}
    for value in _values(ROUTER.with_suffix(".values")):
        assert any(value in secret for secret in found), value


def test_the_dscp_model_of_the_redacted_router_is_the_original_one():
    from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios

    text = ROUTER.read_text()
    original = parse_ios(text, "rtr.cfg")
    redacted = parse_ios(redact(text), "rtr.cfg")
    assert original.interfaces["GigabitEthernet0/0"].description  # the incident's uplink is there
    for field in ("acls", "class_maps", "policy_maps", "route_maps", "local_policy"):
        assert getattr(redacted, field) == getattr(original, field), field
    # an interface's description is free text: it loses an explicit secret (`psk=...`), nothing else does
    assert original.interfaces["Tunnel0"].description != redacted.interfaces["Tunnel0"].description
    assert {name: dataclasses.replace(interface, description=None) for name, interface in redacted.interfaces.items()} \
        == {name: dataclasses.replace(interface, description=None) for name, interface in original.interfaces.items()}
    # references quote their line (an SNMP community naming its ACL): the same places, secrets gone
    assert {key: [e.line for e in found] for key, found in redacted.references.items()} == \
        {key: [e.line for e in found] for key, found in original.references.items()}
    assert [d.as_dict() for d in redacted.diagnostics] == [d.as_dict() for d in original.diagnostics]


def test_the_redacted_firewall_parses_to_the_same_rules():
    from ansible_collections.diffserv.audit.plugins.module_utils.netfilter import parse as netfilter

    def rules(text):
        out = []
        for table in netfilter.parse_ruleset(text, "fw.rules").tables.values():
            for chain in table.chains:
                for rule in table.rules(chain):
                    # a string match stays an unmodelled (may-match) condition; only its text changed
                    conditions = tuple(type(c).__name__ if isinstance(c, netfilter.Opaque) else c
                                       for c in rule.conditions)
                    out.append((rule.chain, rule.index, rule.line, conditions, rule.target))
        return out

    text = FIREWALL.read_text()
    redacted = redact(text)
    assert rules(redacted) == rules(text)
    line_35 = redacted.split("\n")[34]
    assert line_35 == ('-A POSTROUTING -o eth0 -p tcp -m tcp --dport 512:65535 -m comment --comment '
                       '"<redacted:iptables-comment#1>" -j TOS --set-tos 0x04')
    assert netfilter.tokenize(line_35)[13] == "<redacted:iptables-comment#1>"
    assert "web access for the partner relay" in redacted  # a comment without a secret's word stays


@pytest.mark.parametrize("line, secret, kept", [
    ("enable algorithm-type scrypt secret 9 $9$abcXYZ", "$9$abcXYZ", "enable algorithm-type scrypt secret 9"),
    ("enable secret level 15 5 $1$Lv15$hash", "$1$Lv15$hash", "level 15 5"),
    ("snmp-server user U G v3 auth sha A1b2 priv des X9y8 access 10", "X9y8", "access 10"),
    ("snmp-server user U G v3 auth sha A1b2 priv des X9y8 access 10", "A1b2", "priv des"),
    ("snmp-server user U G v3 encrypted auth md5 0xAB12 priv aes 256 0xCD34", "0xCD34", "aes 256"),
    ("snmp-server host 192.0.2.1 vrf MGMT informs version 2c Comm1 udp-port 2162 config", "Comm1", "udp-port 2162"),
    ("snmp-server community Comm2 view V RO 10", "Comm2", "view V RO 10"),
    ("no snmp-server host 192.0.2.1 traps version 2c Comm4", "Comm4", "traps version 2c"),
    ("snmp-server host 172.28.26.15 inform version 2c Comm5", "Comm5", "inform version 2c"),
    ("snmp-server host 172.28.26.15 trap Comm6", "Comm6", "trap"),
    ("snmp-server mib community-map Comm3:100 context c1", "Comm3:100", "context c1"),
    (" pac key PacKey1", "PacKey1", " pac key"),
    (" client 10.0.0.1 server-key SrvKey1", "SrvKey1", "client 10.0.0.1"),
    (" client 10.0.0.1 vrf V server-key 7 SrvKey2", "SrvKey2", "vrf V"),
    (" bind authenticated dn CN=x,DC=y password Bind1", "Bind1", "CN=x,DC=y"),
    (" authentication remote pre-share key Ike1", "Ike1", "pre-share key"),
    (" authentication local pre-share key 6 Ike2", "Ike2", "pre-share key 6"),
    ("  pre-shared-key remote hex 1234abcd", "1234abcd", "remote hex"),
    (" pre-shared-key address 203.0.113.1 255.255.255.255 key Psk1", "Psk1", "address 203.0.113.1"),
    (" key EzGroupKey", "EzGroupKey", " key"),
    (" ip nhrp authentication Nhrp1", "Nhrp1", "ip nhrp authentication"),
    (" area 1 virtual-link 1.1.1.1 authentication-key Vl1", "Vl1", "virtual-link 1.1.1.1"),
    (" area 1 virtual-link 1.1.1.1 message-digest-key 1 md5 Vl2", "Vl2", "message-digest-key 1 md5"),
    ("   authentication mode hmac-sha-256 7 Eigrp1", "Eigrp1", "hmac-sha-256 7"),
    ("  key-string 7 Kc1", "Kc1", "key-string 7"),
    ("mpls ldp neighbor 1.1.1.1 password Ldp1", "Ldp1", "neighbor 1.1.1.1"),
    ("mpls ldp password fallback 7 Ldp2", "Ldp2", "fallback 7"),
    ("vtp password Vtp1", "Vtp1", "vtp password"),
    (" glbp 1 authentication md5 key-string Glbp1", "Glbp1", "glbp 1"),
    (" glbp 1 authentication text Glbp2", "Glbp2", "authentication text"),
    (" standby authentication Hsrp1", "Hsrp1", "standby authentication"),
    (" standby 1 authentication md5 key-string Hsrp2 timeout 30", "Hsrp2", "timeout 30"),
    (" cable shared-secret Cable1", "Cable1", "cable shared-secret"),
    (" credentials username U password 0 Sip1 realm R", "Sip1", "realm R"),
    (" authentication username U password Sip2", "Sip2", "username U"),
    (" wpa-psk ascii 0 Wpa1", "Wpa1", "ascii 0"),
    (" security wpa akm psk set-key ascii 0 Wlan1", "Wlan1", "akm psk set-key ascii 0"),
    (" encryption vlan 1 key 1 size 128bit 7 Wep1 transmit-key", "Wep1", "transmit-key"),
    (" path ftp://user:Url1@192.0.2.9/$h", "Url1", "ftp://user:"),
    (" cli copy running-config tftp://u:Url2@192.0.2.9/x", "Url2", "@192.0.2.9/x"),
    ("boot system ftp://u:Url3@192.0.2.9/image.bin", "Url3", "boot system ftp://u:"),
    ("copy running-config scp://u:Url4@host/file", "Url4", "scp://u:"),
    ("event manager environment _password Eem1", "Eem1", "_password"),
    (' action 1.0 cli command "enable secret Eem2"', "Eem2", '"enable secret <redacted:secret>"'),
    ("key config-key password-encrypt Master1", "Master1", "password-encrypt"),
    ("ntp authentication-key 2 hmac-sha2-256 Ntp1", "Ntp1", "hmac-sha2-256"),
    (" ipv6 ospf authentication ipsec spi 256 md5 0123456789ABCDEF0123456789ABCDEF", "0123456789ABCDEF", "spi 256 md5"),
    (" set session-key inbound ah 256 1234abcdef", "1234abcdef", "inbound ah 256"),
    (" digest secret L2tp1 hash sha", "L2tp1", "hash sha"),
    ("vpdn username U password Vpdn1", "Vpdn1", "username U"),
    ("ppp pap sent-username R password 0 Pap1", "Pap1", "sent-username R"),
    ("syscon address 192.0.2.1 Sys1", "Sys1", "syscon address 192.0.2.1"),
    (" domain-password Isis1 authenticate snp validate", "Isis1", "authenticate snp validate"),
    ("ip msdp password peer 192.0.2.7 7 Msdp1", "Msdp1", "peer 192.0.2.7 7"),
    ("crypto pki token default user-pin 0 Pin1", "Pin1", "user-pin 0"),
    (' -A INPUT -m comment --comment "Bearer Tok9" -j ACCEPT', "Tok9", "-j ACCEPT"),
])
def test_a_secret_is_found_wherever_it_sits_on_the_line(line, secret, kept):
    redacted = redact_line(line)
    assert secret not in redacted
    assert kept in redacted
    assert redact(line).count("<redacted:") == redacted.count("<redacted:") >= 1


@pytest.mark.parametrize("line", [
    "key chain OSPF-KEYS", " key 1", " authentication key-chain EIGRP-KEYS", "   authentication key-chain EIGRP-KEYS",
    "crypto key generate rsa modulus 2048", "crypto key pubkey-chain rsa", "service password-encryption",
    "password encryption aes", "no password", "security passwords min-length 8", "aaa password restriction",
    "mpls ldp password required", "username kiosk nopassword", " authentication key-management wpa version 2",
    " security wpa akm psk", " standby 3 authentication md5 key-chain KC", " ip rip authentication key-chain KC",
    " ip authentication key-chain eigrp 1 KC", "mka pre-shared-key key-chain KC", "ntp trusted-key 1",
    "ntp server 192.0.2.1 key 1", " tunnel key 100", " keyring local KR", " authentication remote pre-share",
    "snmp-server group G v3 priv read V access 10", "snmp-server enable traps snmp authentication",
    "aaa authentication login default group tacacs+ local", " ip ospf authentication message-digest",
    " radius-server host 192.0.2.1 auth-port 1812 acct-port 1813",
    # what the DSCP analysis reads, even with a secret's word for a name
    "access-list 101 permit tcp any any eq 49", "ip access-list extended KEY", " permit ip any any dscp 1",
    " 10 permit ip any any dscp 1", "route-map key permit 10", " match community secret", " set community 65000:100",
    " set interface Null0", "class-map match-any password", " class password", "policy-map secret",
    " service-policy input secret", " ip access-group secret in", " ip policy route-map key", "interface Tunnel0",
    " match ip address 106", "ip community-list standard key permit 65000:1",
])
def test_words_that_only_name_or_talk_about_secrets_are_kept(line):
    assert redact_line(line) == line
    assert redact(line) == line
    assert secrets_in(line) == []


def test_snmp_community_keeps_its_access_list():
    assert redact_line("snmp-server community Comm9 RO 10") == "snmp-server community <redacted:snmp-community> RO 10"


@pytest.mark.parametrize("section", ["crypto isakmp client configuration group G", "radius server R",
                                     "tacacs server T"])
def test_a_numeric_key_is_a_secret_outside_key_chains(section):
    assert redact("%s\n key 12345678\n!" % section) == "%s\n key <redacted:%s#1>\n!" % (
        section, "key" if section.startswith("crypto") else "server-key")
    assert redact("key chain KC\n key 12345678\n  key-string 7 K1\n!") == \
        "key chain KC\n key 12345678\n  key-string 7 <redacted:key-string#1>\n!"


def test_unknown_lines_under_secret_sections_are_redacted_conservatively():
    text = "crypto ikev2 keyring KR\n peer P\n  new-psk-form Sec1\n  address 192.0.2.1\nwlan W 1 W\n token Tok1\n!"
    redacted = redact(text)
    assert "Sec1" not in redacted and "Tok1" not in redacted
    assert "  address 192.0.2.1" in redacted
    # the same words outside such a section carry no known secret
    assert redact("logging new-psk-form x") == "logging new-psk-form x"


def test_certificate_chains_are_folded_line_for_line():
    text = ("crypto pki certificate chain TP\n certificate ca 01\n  3082022B 30820194\n  A0030201 02020101\n"
            "  \tquit\n!\nhostname r")
    redacted = redact(text).split("\n")
    assert redacted[:2] == ["crypto pki certificate chain TP", " certificate ca 01"]
    assert redacted[2:4] == ["  <redacted:certificate#1>", "  <redacted:certificate#2>"]
    assert redacted[4:] == ["  \tquit", "!", "hostname r"]


def test_iptables_comments_and_string_matches_with_a_secret_are_replaced_whole():
    assert redact_line('-A INPUT -m comment --comment "api key: Ab1" -j ACCEPT') == \
        '-A INPUT -m comment --comment "<redacted:iptables-comment>" -j ACCEPT'
    assert redact_line("-A INPUT -m comment --comment token=Ab2 -j ACCEPT") == \
        '-A INPUT -m comment --comment "<redacted:iptables-comment>" -j ACCEPT'
    assert redact_line('-A INPUT -m string --string "PASS Ab3" --algo bm -j DROP') == \
        '-A INPUT -m string --string "<redacted:iptables-string>" --algo bm -j DROP'
    # |70617373| is "pass": the bytes are read, not the hex digits
    assert "Ab4" not in redact_line('-A INPUT -m string --hex-string "|70617373|=Ab4" --algo kmp -j DROP')
    plain = '-A INPUT -p tcp --dport 22 -m comment --comment "ssh from the jump host" -j ACCEPT'
    assert redact_line(plain) == plain
    # an unterminated quote stays unterminated: the parser still reports the broken line
    assert redact_line('-A INPUT -m comment --comment "password Ab5') == \
        '-A INPUT -m comment --comment "<redacted:iptables-comment>'


def test_a_line_too_long_to_be_a_command_is_redacted_after_its_first_keyword():
    line = "x" * 70000 + " password Long1 and more"
    assert redact_line(line) == "x" * 70000 + " password <redacted:long-line>"
    comment = '-A INPUT -m comment --comment "%s secret=Long2" -j ACCEPT' % ("y" * 100000)
    assert redact_line(comment) == '-A INPUT -m comment --comment "<redacted:iptables-comment>" -j ACCEPT'


def test_error_quotes_bound_then_redact():
    from ansible_collections.diffserv.audit.plugins.module_utils.errors import quote

    line = "-A POSTROUTING -m comment --comment \"psk=Cut1 %s\" -j ACCEPT" % ("z" * 300)
    assert "Cut1" not in quote(line)
    assert "Cut2" not in quote(" " * 150 + "snmp-server community Cut2 RO")


def test_netconan_leaves_secrets_we_redact(tmp_path):
    """The same router through netconan 0.15.0 (`-p`, its password and community anonymizer): what it leaves."""
    import subprocess
    import sys

    pytest.importorskip("netconan")
    out = tmp_path / "netconan.cfg"
    run = subprocess.run([str(pathlib.Path(sys.executable).parent / "netconan"), "-i", str(ROUTER), "-o", str(out),
                          "-p", "-s", "diffserv"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    values = _values(ROUTER.with_suffix(".values"))
    left_by_netconan = [value for value in values if value in out.read_text()]
    left_by_us = [value for value in values if value in redact(ROUTER.read_text())]
    assert left_by_us == []
    # the places netconan's regexes do not know (see the README for the counts)
    assert {"Zq7BootUrl01", "Zq7ConfigKey04", "Zq7DynAuth09", "Zq7Nhrp31", "Zq7VirtLinkMd544", "Zq7EigrpHmac45",
            "Zq7WlanPsk71", "Zq7EemEnv80", "5A7CE7A1 5A7CE7A2"} <= set(left_by_netconan)
    assert len(left_by_netconan) == 24, left_by_netconan


def test_a_long_line_with_a_no_break_space_before_the_keyword_is_redacted_not_an_error():
    # Over 64 KiB a line is redacted from its first secret keyword; a U+00A0 before the keyword
    # used to make the word search return None (AttributeError) and lose the host's collection.
    line = "x" * 70000 + " \u00a0password hunter2"
    shown = redact_line(line)
    assert "hunter2" not in shown and shown.startswith("x" * 1000)
    assert "hunter2" not in redact(line + "\n")


# -- the sparse path: only hinted lines are visited ------------------------------------------------
_FIXTURE_TEXTS = sorted(path for path in (pathlib.Path(__file__).parents[3] / "fixtures").rglob("*")
                        if path.is_file() and path.suffix in (".cfg", ".rules", ".txt", ".v4", ".v6", ""))


@pytest.mark.parametrize("path", _FIXTURE_TEXTS, ids=lambda path: path.name)
def test_redaction_of_every_fixture_is_the_line_by_line_walk(path):
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    assert redact(text) == redact_module._redact_walk(text)


@pytest.mark.parametrize("text", [
    # A hint in an indented line takes its section from the last column-0 line above it, past `!`.
    "interface Gi0/0\n description uplink\n!\n ip ospf authentication-key 7 0822455D0A16\n",
    "line vty 0 4\n password 7 045802150C2E\n!\nsnmp-server community s3cr3t RO\n",
    # A route-map's `set community` stays; the same words under another section may not.
    "route-map RM permit 10\n set community 65000:1\nrouter bgp 65000\n neighbor 192.0.2.1 password p4ss\n",
    # The same secret twice gets one number; two secrets get two, in line order.
    "username a secret 5 $1$abc\nusername b secret 5 $1$def\nusername c secret 5 $1$abc\n",
    # An iptables comment with a secret, a hex string, and hints in no secret at all.
    "*mangle\n-A POSTROUTING -m comment --comment \"psk=hunter2\" -j ACCEPT\n"
    "-A PREROUTING -m string --hex-string \"|70617373776f72643d78|\" --algo bm -j DROP\n-A OUTPUT -p icmp -j ACCEPT\nCOMMIT\n",
    "",
    "key chain K\n key 1\n  key-string 7 1234\n",
])
def test_the_sparse_path_gives_the_walks_text(text):
    assert text.isascii() and not redact_module._walk_needed(text.lower())
    assert redact_module._redact_sparse(text) == redact_module._redact_walk(text)
    assert redact(text) == redact_module._redact_walk(text)


def test_key_material_and_non_ascii_texts_take_the_walk():
    pem = "crypto pki certificate chain TP\n certificate 01\n  3082 0122\n  quit\n"
    assert redact_module._walk_needed(pem.lower())
    assert "3082" not in redact(pem)
    accented = "username é secret 5 $1$abc\n"
    assert not accented.isascii() and "$1$abc" not in redact(accented)
