"""Redaction that reads less: a sealed text is not redacted twice, a candidate is read where it differs from the
clean text it was made from.  Both must give exactly what redact() gives."""

import pathlib
import random

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import redact as redact_module
from ansible_collections.diffserv.audit.plugins.module_utils.redact import (
    redact, redact_derived, redact_sealed, seal, secrets_in)

HERE = pathlib.Path(__file__).parent
REAL = HERE.parents[2] / "fixtures" / "real"
SECRETS = (HERE / "fixtures" / "secrets-router.cfg").read_text()


def _corpus() -> list[str]:
    texts = [SECRETS]
    for folder in ("ios", "iptables"):
        texts += [path.read_text(errors="replace") for path in sorted((REAL / folder).iterdir())
                  if path.is_file() and path.suffix not in (".md", ".yml")][:12]
    return [text for text in texts if text.isascii()]


CORPUS = _corpus()
# Lines whose words are secrets only under some sections: a new section head above them changes them.
SECTIONED = ["".join("interface Gi%d/0\n key-foo abc%d\n shared-token t%d\n!\n" % (n, n, n) for n in range(60))]
# Lines an edit inserts: secrets, section heads that change what follows, plain rules, key material.
INSERTED = [line for line in SECRETS.splitlines() if line.strip()] + [
    "radius server R9", "interface GigabitEthernet9/9", " key-foo abc", " description key rotation", "!",
    "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00",
    '-A INPUT -m comment --comment "vpn psk=abc" -j ACCEPT', "crypto pki certificate chain TP", "",
]


@pytest.fixture
def small_texts_derive(monkeypatch):
    """Every text counts as big (the corpus files are small), and the trusted list starts empty."""
    monkeypatch.setattr(redact_module, "_DERIVE_MIN", 0)
    monkeypatch.setattr(redact_module, "_BASE_MIN", 0)
    monkeypatch.setattr(redact_module, "_CLEAN", {})
    monkeypatch.setattr(redact_module, "_SLICE", 64)  # small slices: the slice-then-halves search is exercised


def test_a_sealed_text_is_trusted_only_while_text_and_rules_are_the_same(monkeypatch):
    clean = redact(SECRETS)
    sealed = seal(clean)
    assert sealed is not None
    assert redact_sealed(clean, sealed) is clean
    # A secret written into the text after it was sealed: the seal no longer matches, the text is redacted.
    edited = clean + "snmp-server community LeakedAfter RO\n"
    assert "LeakedAfter" not in redact_sealed(edited, sealed)
    # The same text sealed under other rules (an older redact.py): redacted again.
    raw = SECRETS
    monkeypatch.setattr(redact_module, "_RULES_DIGEST", ["0" * 16])
    forged = seal(raw)
    monkeypatch.setattr(redact_module, "_RULES_DIGEST", [])
    assert secrets_in(redact_sealed(raw, forged)) == []
    assert redact_sealed(raw, None) == redact(raw)


def test_an_unreadable_module_seals_nothing(monkeypatch):
    monkeypatch.setattr(redact_module, "_RULES_DIGEST", [None])
    assert seal("hostname r1\n") is None
    assert redact_sealed("snmp-server community private RO\n", None) == redact("snmp-server community private RO\n")


def test_a_clean_rule_added_to_a_clean_dump_is_not_read_again(small_texts_derive):
    base = redact("*mangle\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth1 -j ACCEPT\nCOMMIT\n" * 50)
    candidate = base.replace("COMMIT\n", "-A POSTROUTING -o eth0 -j DSCP --set-dscp 0x00\nCOMMIT\n", 1)
    assert redact_module._unchanged_from(candidate, base)
    assert redact_derived(candidate, base) is candidate


@pytest.mark.parametrize("edit, why", [
    (lambda text: text.replace("interface Gi0/0\n", "radius server R1\n", 1), "a new section head above a hint"),
    (lambda text: text.replace(" shutdown\n", " shutdown\n password 0 Leak1\n", 1), "a secret among the new lines"),
])
def test_what_the_change_may_turn_into_a_secret_is_redacted(small_texts_derive, edit, why):
    base = redact("hostname r\n" + "interface Gi0/0\n key-foo abc\n shutdown\n!\n" + "ip route 0.0.0.0 0.0.0.0 Null0\n" * 40)
    candidate = edit(base)
    assert not redact_module._unchanged_from(candidate, base), why
    assert redact_derived(candidate, base) == redact(candidate)
    assert secrets_in(redact_derived(candidate, base)) == []


def test_a_base_this_process_did_not_redact_is_not_trusted(small_texts_derive):
    raw = "hostname r\nsnmp-server community Secret9 RO\n" + "ip route 0.0.0.0 0.0.0.0 Null0\n" * 40
    candidate = raw + "ip route 10.0.0.0 255.0.0.0 Null0\n"
    assert "Secret9" not in redact_derived(candidate, raw)


def _edited(rng: random.Random, text: str, heads: float, most: int) -> str:
    """1 to `most` random line edits; `heads`: the share of them that put a section head above an indented line."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, most)):
        where = rng.randrange(len(lines) + 1)
        kind = rng.random()
        indented = [index for index, line in enumerate(lines) if line.startswith(" ")]
        if kind < heads and indented:
            # A section head just above an indented line: the lines under it may now be read as secrets.
            lines.insert(rng.choice(indented), rng.choice(("radius server R9", "key chain K9", "interface Gi9/9")))
        elif kind < heads + 0.25:
            lines.insert(where, rng.choice(INSERTED))
        elif kind < heads + 0.55 and lines:
            del lines[min(where, len(lines) - 1)]
        elif lines:
            lines[min(where, len(lines) - 1)] = rng.choice(INSERTED)
    return "\n".join(lines)


@pytest.mark.parametrize("corpus, heads, most, rounds, least", [(CORPUS, 0.15, 3, 600, 100), (SECTIONED, 0.5, 1, 200, 10)],
                         ids=["real files", "section-sensitive lines"])
def test_derived_redaction_is_redaction_on_random_edits(small_texts_derive, corpus, heads, most, rounds, least):
    rng = random.Random(1309)
    fast = 0
    for round_ in range(rounds):
        base = redact(rng.choice(corpus))
        candidate = _edited(rng, base, heads, most)
        expected = redact(candidate)
        assert redact_derived(candidate, base) == expected, round_
        if redact_module._unchanged_from(candidate, base):
            fast += 1
            assert expected == candidate, round_
    # Most edits of a long file touch no secret: the shortcut is taken, so the equality above tested it.
    assert fast > least, fast


def test_every_collected_text_of_a_few_kilobytes_is_a_base(monkeypatch):
    # A fleet's running texts are small: each enters the plan through redact_sealed and is a base from then on,
    # so its candidates are read where they differ (what a 1,000-device fleet's bundles redact most).
    monkeypatch.setattr(redact_module, "_CLEAN", {})
    running = redact("hostname r\n" + "ip route 10.%d.0.0 255.255.0.0 Null0\n" * 300 % tuple(range(300)))
    assert len(running) >= redact_module._BASE_MIN
    collected = redact_sealed(running, seal(running))
    candidate = collected.replace("hostname r\n", "hostname r\nip route 0.0.0.0 0.0.0.0 Null0\n")
    assert redact_derived(candidate, collected) is candidate
    leaked = collected.replace("hostname r\n", "hostname r\nsnmp-server community Leak3 RO\n")
    assert "Leak3" not in redact_derived(leaked, collected)
    # A text of the same words that did not come through redact_sealed (or redact) is not a base.
    stranger = "".join(list(collected))
    assert stranger is not collected and redact_module._CLEAN.get(id(stranger)) is None


def test_data_lines_are_redacted_alike_the_first_time_and_after():
    from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact_data
    data = {"rule": "snmp-server community Again1 RO", "rows": ["snmp-server community Again1 RO"] * 3}
    first, second = redact_data(data), redact_data(data)
    assert first == second and "Again1" not in repr(first)


def test_the_registry_of_bases_keeps_the_newest_and_a_forgotten_base_means_a_full_read(monkeypatch, small_texts_derive):
    monkeypatch.setattr(redact_module, "_CLEAN_KEPT", 3)
    monkeypatch.setattr(redact_module, "_DERIVE_MIN", 1 << 30)  # only redact_sealed registers here
    bases = [redact_sealed("hostname r%d\n" % n + "ip route 0.0.0.0 0.0.0.0 Null0\n" * 40, None) for n in range(5)]
    assert list(redact_module._CLEAN.values()) == bases[2:]  # the oldest two were let go
    calls = []
    monkeypatch.setattr(redact_module, "_unchanged_from", lambda text, base: calls.append(base) or True)
    for base in bases:
        candidate = base + "ip route 10.0.0.0 255.0.0.0 Null0\n"
        assert redact_derived(candidate, base) == redact(candidate)
    assert calls == bases[2:]  # only a base still held is compared with
