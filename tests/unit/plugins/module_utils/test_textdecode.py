"""Saved configurations decoded the way a person saved them: Notepad, PowerShell, a Latin-1 comment."""

import doctest
import pathlib

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import textdecode
from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_ruleset
from ansible_collections.diffserv.audit.plugins.module_utils.textdecode import decode_config
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_config, read_text

INPUTS = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "inputs"
SAVED = (INPUTS / "filter-then-mangle.v4").read_text(encoding="utf-8")


def test_the_module_examples_hold():
    assert doctest.testmod(textdecode).failed == 0


def test_plain_utf8_is_read_as_is_without_notes():
    assert decode_config(SAVED.encode("utf-8"), "f") == (SAVED, [])
    assert decode_config("# caf\u00e9 \u2014 ok\n".encode("utf-8"), "f") == ("# caf\u00e9 \u2014 ok\n", [])


@pytest.mark.parametrize("name", ["notepad-utf8-bom-crlf.v4", "powershell-redirect-utf16le.v4", "utf16be-bom.v4"])
def test_byte_order_marks_are_read_and_dropped_line_ends_kept(name):
    text, notes = decode_config((INPUTS / name).read_bytes(), name)
    assert notes == [] and not text.startswith("\ufeff")
    assert text.replace("\r\n", "\n") == SAVED
    # The parser takes the CRLF text as it is: same lines, same rules, as the file that was saved.
    ruleset = parse_ruleset(text, name)
    assert ruleset.header.line == 1 and ruleset.tables["mangle"].rules("POSTROUTING")[0].line == 17
    assert ruleset.tables["mangle"].rules("POSTROUTING")[0].text.endswith("--set-tos 0x04/0xff")


def test_utf32_marks_are_not_mistaken_for_utf16():
    text, notes = decode_config(textdecode.codecs.BOM_UTF32_LE + "*mangle\n".encode("utf-32-le"), "f")
    assert (text, notes) == ("*mangle\n", [])


def test_a_latin1_byte_in_a_comment_is_read_with_a_note_naming_its_line():
    data = (INPUTS / "latin1-comment.v4").read_bytes()
    text, notes = decode_config(data, "partner.v4")
    assert "# r\u00e9gl\u00e9 par Ren\u00e9e" in text and len(text) == len(data)
    assert [(n.line, n.reason) for n in notes] == [(11, "not valid UTF-8 (byte 0xe9): read as Latin-1")]
    assert notes[0].text == "# r\u00e9gl\u00e9 par Ren\u00e9e"
    assert str(notes[0]).startswith("partner.v4:11: not valid UTF-8 (byte 0xe9): read as Latin-1")
    assert parse_ruleset(text, "partner.v4").tables["mangle"].rules("POSTROUTING")[0].line == 18


def test_stray_bytes_on_several_lines_are_counted_on_the_first_ones_note():
    text, notes = decode_config(b"a\nb\xe9\nc\xe9\xe9\nd\ne\xff\n", "f")
    assert text == "a\nb\u00e9\nc\u00e9\u00e9\nd\ne\u00ff\n"
    assert [(n.line, n.reason) for n in notes] == [(2, "not valid UTF-8 (byte 0xe9): read as Latin-1; "
                                                       "2 more lines with such bytes")]


def test_a_utf8_mark_then_a_latin1_byte_is_still_read():
    text, notes = decode_config(b"\xef\xbb\xbf# \xe9\n*mangle\n", "f")
    assert text == "# \u00e9\n*mangle\n" and [(n.line, n.reason[:20]) for n in notes] == [(1, "not valid UTF-8 (byt")]


def test_utf16_without_a_mark_is_read_only_in_its_strict_ascii_shape():
    text, notes = decode_config("*mangle\r\nCOMMIT\r\n".encode("utf-16-le"), "f")
    assert text == "*mangle\r\nCOMMIT\r\n"
    assert [(n.line, n.reason) for n in notes] == [
        (1, "UTF-16 LE text without a byte order mark (every other byte NUL): read as UTF-16 LE")]
    text, notes = decode_config("*mangle\n".encode("utf-16-be"), "f")
    assert text == "*mangle\n" and "UTF-16 BE" in notes[0].reason


@pytest.mark.parametrize("data, line", [
    (b"*mangle\nCOMMIT\n\x00\x01\x02", 3),  # a NUL no UTF-16 explains
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", 1),  # gzip: the dump was saved compressed
    ("*mangle\n\x00\n".encode("utf-16"), 2),  # a NUL character inside real UTF-16 text
])
def test_nul_bytes_that_are_not_utf16_are_binary_data(data, line):
    with pytest.raises(ParseError) as raised:
        decode_config(data, "f")
    assert str(raised.value) == "f:%d: binary data (NUL byte): not a configuration text file" % line


def test_a_mark_the_rest_of_the_file_contradicts_is_refused():
    with pytest.raises(ParseError, match=r"^f: starts with a UTF-16 LE byte order mark but is not valid UTF-16 LE"):
        decode_config(b"\xff\xfe*\x00m\x00\x00\xd8", "f")


def test_a_note_never_copies_a_huge_line():
    text, notes = decode_config(b"# " + b"\xe9" * (5 * 1024 * 1024) + b"\n", "f")
    assert len(text) == 5 * 1024 * 1024 + 3 and len(notes[0].text) < 300


def test_read_config_gives_the_notes_and_read_text_the_text(tmp_path):
    path = tmp_path / "saved.v4"
    path.write_bytes((INPUTS / "latin1-comment.v4").read_bytes())
    text, notes = read_config(str(path), "inventory/saved.v4")
    assert read_text(str(path), "inventory/saved.v4") == text
    assert str(notes[0]).startswith("inventory/saved.v4:11: not valid UTF-8")
    with pytest.raises(ParseError, match=r"^inventory/missing: cannot read: No such file or directory"):
        read_config(str(tmp_path / "missing"), "inventory/missing")
