# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading saved configurations on the controller, with errors that name the file."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError


def read_text(path: str, shown_as: str | None = None) -> str:
    """The file's text; a missing, unreadable or binary file is a ParseError naming it."""
    name = shown_as or path
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ParseError(name, None, "cannot read: %s" % error.strerror) from None
    if b"\x00" in data:
        raise ParseError(name, None, "binary data (NUL byte at offset %d): not a configuration dump"
                         % data.index(b"\x00"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ParseError(name, line, "not UTF-8 text (byte 0x%02x): not a configuration dump"
                         % data[error.start]) from None
