# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's outputs for people and pipelines, shaped from findings.json data (standard library only).

- `text`: the words reports use for a flow, a packet, a source line, a DS byte (no Python reprs).
- `view`: findings -> the finished data report.md, report.html and the console summary render
  (conflicts grouped by the router treatment they share, each with its path picture laid out).
- `picture`: the geometry of one conflict's path picture (boxes, lines of text, arrows) for SVG.
- `sarif`: findings -> a SARIF 2.1.0 log; `junit`: findings -> JUnit XML.
- `baseline`: an earlier findings.json against this one: new, resolved and unchanged conflicts.

Every function takes the findings as findings.json holds them (plain data, already redacted) and
returns plain data; the templates in roles/audit/templates only print it.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type
