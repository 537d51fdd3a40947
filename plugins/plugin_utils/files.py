# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading saved configurations on the controller, with errors that name the file."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.diffserv.audit.plugins.module_utils.errors import Diagnostic, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.textdecode import decode_config


def read_config(path: str, shown_as: str | None = None) -> tuple[str, list[Diagnostic]]:
    """The file's text and how it was decoded (see textdecode): UTF-8 with or without a byte order
    mark, UTF-16 from a PowerShell redirect, Latin-1 for stray bytes (a Diagnostic names the line).

    A missing or unreadable file, or binary data, is a ParseError naming it as `shown_as`.
    """
    name = shown_as or path
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ParseError(name, None, "cannot read: %s" % error.strerror) from None
    return decode_config(data, name)


def read_text(path: str, shown_as: str | None = None) -> str:
    """The file's text, decoded as read_config does; callers that report notes use read_config."""
    return read_config(path, shown_as)[0]
