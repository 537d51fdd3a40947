# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors that read like a compiler's: `file:line: what is wrong`, quoting the input bounded and redacted.

A message may be printed on a console, written into findings.json or carried in an Ansible result:
whatever line of input it quotes goes through `quote()` first, so a secret on that line is never
shown and a 50 MiB line costs at most QUOTE_LIMIT characters.

>>> quote("x" * 500).endswith("x... (300 more characters)")
True
>>> quote(" snmp-server community s3cr3t RO")
'snmp-server community <redacted:snmp-community> RO'
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact_line_once

# How much of an input line a message quotes: enough to recognise the line, never a whole garbage line.
QUOTE_LIMIT = 200


def quote(text: str, limit: int = QUOTE_LIMIT, exact: bool = False) -> str:
    """One line of input as a message may show it: stripped, redacted, at most `limit` characters.

    The bound is applied before redaction reads the line, so quoting costs O(limit) whatever the
    line's length; a secret cut in two by the bound is redacted by what is left of its keyword.
    `exact` keeps the line's spaces as they are (evidence quoting an IOS sub-command under its
    parent; a check command whose trailing space matters).
    """
    body = text if exact else text.strip()
    # A fleet's evidence lines repeat (each conflict in every strategy's bundle, the report's rows): each
    # distinct bounded line is redacted once.  Bodies are at most a few times QUOTE_LIMIT long.
    if len(body) <= limit:
        return redact_line_once(body)
    return redact_line_once(body[:limit]) + "... (%d more characters)" % (len(body) - limit)


class DiffservError(Exception):
    """Base of every error the core raises on purpose."""


class ParseError(DiffservError):
    """Input that cannot be read, located by file and line."""

    def __init__(self, file: str, line: int | None, reason: str, text: str | None = None) -> None:
        self.file = file
        self.line = line
        # A reason may name a token of the input (`unknown table 'x...'`): bounded and redacted too.
        self.reason = reason = quote(reason, 2 * QUOTE_LIMIT)
        # Only the bounded, redacted quote is kept: the exception may outlive the input.
        self.text = quote(text) if text is not None else None
        where = "%s:%d" % (file, line) if line else file
        message = "%s: %s" % (where, reason)
        if self.text is not None:
            message += "\n    %s" % self.text
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A non-fatal finding about the input, with its place: kept, reported, never dropped."""

    file: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return "%s:%d: %s\n    %s" % (self.file, self.line, quote(self.reason, 2 * QUOTE_LIMIT), quote(self.text))

    def as_dict(self) -> dict[str, t.Any]:
        # What findings.json and the reports show of the line: bounded and redacted like any quote.
        return dict(dataclasses.asdict(self), text=quote(self.text), reason=quote(self.reason, 2 * QUOTE_LIMIT))


def error_entry(host: str | None, error: BaseException, stage: str) -> dict[str, t.Any]:
    """One `errors` entry of the findings: the core's own errors as they read; anything else named as
    an internal error, so one host's surprise never loses the run.  Bounded and redacted: an
    exception may carry a whole input line.
    """
    if isinstance(error, DiffservError):
        reason = str(error)
    else:
        reason = "internal error while %s: %s: %s (a bug in diffserv.audit; the other hosts are reported)" % (
            stage, type(error).__name__, error)
    lines = reason.split("\n")
    return {"host": host, "stage": stage, "reason": "\n    ".join(quote(line, 2 * QUOTE_LIMIT) for line in lines[:6])}
