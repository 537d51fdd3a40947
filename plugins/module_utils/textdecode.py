# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bytes of a saved configuration -> text, the way a person saved it.

A dump reaches us through whatever its owner used: `iptables-save > f` (UTF-8, LF), Notepad (a
UTF-8 byte order mark and CRLF), a PowerShell `>` redirect (UTF-16 LE with its byte order mark),
a mail client that re-encoded a comment in Latin-1.  Each is read as what it is; line ends are
left alone (the parsers strip a trailing CR), so line numbers stay those of the file.  Whatever was
a guess is said in a Diagnostic naming the line; NUL bytes that no UTF-16 explains are binary data.

>>> decode_config(b"\\xef\\xbb\\xbf*mangle\\r\\n", "f")
('*mangle\\r\\n', [])
>>> decode_config("*mangle\\n".encode("utf-16"), "f")
('*mangle\\n', [])
>>> text, notes = decode_config(b"# caf\\xe9\\n*mangle\\n", "f")
>>> text, str(notes[0]).splitlines()[0]
('# caf\\xe9\\n*mangle\\n', 'f:1: not valid UTF-8 (byte 0xe9): read as Latin-1')
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import codecs
import re

from ansible_collections.diffserv.audit.plugins.module_utils.errors import QUOTE_LIMIT, Diagnostic, ParseError, quote

# Byte order marks, longest first: a UTF-32 LE mark begins with the UTF-16 LE one.
BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
# What `str` text may still start with after a careless decode (`open(f).read()` keeps it).
BOM_CHAR = "\ufeff"
FALLBACK = "latin-1"

NOTE_LATIN1 = "not valid UTF-8 (byte 0x%02x): read as Latin-1"
NOTE_LATIN1_MORE = "; %d more line%s with such bytes"
NOTE_UTF16_NO_BOM = "UTF-16 %s text without a byte order mark (every other byte NUL): read as UTF-16 %s"
ERROR_BINARY = "binary data (NUL byte): not a configuration text file"
ERROR_BAD_BOM = "starts with a %s byte order mark but is not valid %s (at byte %d)"

# How much of a line a note keeps before quote() bounds it again: never a copy of a 50 MiB line.
_SHOWN_LIMIT = 4 * QUOTE_LIMIT
# A surrogateescape decode turns each byte that is not UTF-8 into one of these.
_ESCAPED_RE = re.compile("[\udc80-\udcff]")


def decode_config(data: bytes, file: str) -> tuple[str, list[Diagnostic]]:
    """The text of a saved configuration and the notes on how it was read.

    ParseError (file:line) for NUL bytes that are not UTF-16 and for a byte order mark the
    rest of the file contradicts.
    """
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as error:
                if codec != "utf-8":
                    raise ParseError(file, None, ERROR_BAD_BOM % (name, name, error.start + len(bom))) from None
                # A UTF-8 mark then a stray Latin-1 byte: Notepad saved it, someone pasted into it.
                text, notes = _latin1(data[len(bom):], file)
                return text, notes
            nul = text.find("\x00")
            if nul >= 0:
                raise ParseError(file, text.count("\n", 0, nul) + 1, ERROR_BINARY)
            return text, []
    if b"\x00" in data:
        unmarked = _utf16_without_bom(data)
        if unmarked is None:
            _refuse_nul(data, file)
            raise AssertionError("unreachable: the data holds a NUL byte")
        text, order = unmarked
        return text, [Diagnostic(file, 1, quote(_line_at(text, 1)), NOTE_UTF16_NO_BOM % (order, order))]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        return _latin1(data, file)


def _refuse_nul(data: bytes, file: str) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ParseError(file, data.count(b"\n", 0, nul) + 1, ERROR_BINARY)


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """ASCII text saved as UTF-16 without a mark: one half of the bytes is all NUL, the other none.

    Only that strict shape is read: real binary data never has it, and a dump is ASCII.
    """
    if len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    for low, high, codec, order in ((even, odd, "utf-16-le", "LE"), (odd, even, "utf-16-be", "BE")):
        if high.count(0) == len(high) and b"\x00" not in low and low.isascii():
            return data.decode(codec), order
    return None


def _latin1(data: bytes, file: str) -> tuple[str, list[Diagnostic]]:
    """Latin-1 maps every byte to one character: nothing is lost, line numbers stay exact."""
    _refuse_nul(data, file)
    escaped = data.decode("utf-8", "surrogateescape")
    lines: list[int] = []
    first_byte = 0
    position = 0
    line = 1
    for match in _ESCAPED_RE.finditer(escaped):
        line += escaped.count("\n", position, match.start())
        position = match.start()
        if not lines:
            first_byte = ord(match.group()) - 0xDC00
        if not lines or lines[-1] != line:
            lines.append(line)
    text = data.decode(FALLBACK)
    reason = NOTE_LATIN1 % first_byte
    if len(lines) > 1:
        reason += NOTE_LATIN1_MORE % (len(lines) - 1, "" if len(lines) == 2 else "s")
    shown = _line_at(text, lines[0])
    return text, [Diagnostic(file, lines[0], quote(shown), reason)]


def _line_at(text: str, number: int) -> str:
    """Line `number` (1-based) without splitting the whole text: a 50 MiB file stays one copy."""
    start = 0
    for _line in range(number - 1):
        start = text.index("\n", start) + 1
    end = text.find("\n", start, start + _SHOWN_LIMIT)
    return text[start:start + _SHOWN_LIMIT] if end < 0 else text[start:end]
