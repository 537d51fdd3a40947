# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors that read like a compiler's: `file:line: what is wrong`."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses


class DiffservError(Exception):
    """Base of every error the core raises on purpose."""


class ParseError(DiffservError):
    """Input that cannot be read, located by file and line."""

    def __init__(self, file: str, line: int | None, reason: str, text: str | None = None) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        self.text = text
        where = "%s:%d" % (file, line) if line else file
        message = "%s: %s" % (where, reason)
        if text is not None:
            message += "\n    %s" % text.strip()
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A non-fatal finding about the input, with its place: kept, reported, never dropped."""

    file: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return "%s:%d: %s\n    %s" % (self.file, self.line, self.reason, self.text.strip())

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
