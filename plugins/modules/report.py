#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the report action plugin (plugins/action/report.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: report
short_description: Write the audit's reports for people and pipelines from findings.json
description:
  - Reads the C(findings.json) M(diffserv.audit.analyze) wrote and writes beside it, as asked by
    O(formats), C(report.md), C(report.html), C(findings.sarif) (SARIF 2.1.0) and C(junit.xml).
  - C(report.html) is one self-contained page (inline CSS and SVG, no script, font or image from
    elsewhere) with a picture of each conflict's path; it prints, and reads without colour.
  - With O(baseline), compares the conflicts with those of an earlier C(findings.json), matched by
    meaning (firewall and rule text, router, interface, DSCP, fate; not line numbers), adds the
    result to C(findings.json) as C(baseline) and shows it in every report.
  - With change bundles written under C(changes/<strategy>/), also packs each strategy into one
    archive C(changes/<strategy>.zip) (its CHANGE.md, diffs, commands, rollbacks, and report.html).
  - The reports are files on the controller the run was asked for, so they are written in check
    mode too; the result says so (C(check_mode_note)).
version_added: 0.2.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  findings_file:
    description: The C(findings.json) to report on.
    type: path
    required: true
  report_dir:
    description: Where the reports go; left out, the folder of O(findings_file).
    type: path
  formats:
    description: The reports to write.
    type: list
    elements: str
    choices: [md, html, sarif, junit]
    default: [md, html, sarif, junit]
  baseline:
    description: An earlier C(findings.json) to compare the conflicts with.
    type: path
  register_name:
    description:
      - The variable the collection was registered as; its texts let the reports quote, with their text,
        the earlier writes a marking rule overwrote (findings.json names them by line number).
    type: str
    default: diffserv_collect
  bundle:
    description: The C(bundle) summary the analyze task returned (which strategies came out clean).
    type: dict
  bundle_error:
    description: Why the analyze task wrote no change bundles.
    type: str
  notes:
    description:
      - Sentences about the run the reports repeat (the links left out because an end is outside C(--limit)).
    type: list
    elements: str
    default: []
  archives:
    description: Pack each strategy's bundle folder into C(changes/<strategy>.zip) with report.html.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Write every report beside findings.json, comparing with last week's audit
  diffserv.audit.report:
    findings_file: reports/this-week/findings.json
    baseline: reports/last-week/findings.json
  register: diffserv_report
"""

RETURN = r"""
files:
  description: Report name -> the path written.
  returned: always
  type: dict
summary:
  description: The console summary, one line an item (every router line with its file and text).
  returned: always
  type: list
  elements: str
baseline:
  description: The comparison with O(baseline) (C(file), C(counts), C(new), C(resolved), C(unchanged)).
  returned: when O(baseline) is given
  type: dict
new_conflicts:
  description: Conflicts not in the baseline (every conflict when no baseline is given).
  returned: always
  type: int
check_mode_note:
  description: Said in check mode, where the reports are written all the same.
  returned: in check mode
  type: str
timings:
  description: Seconds spent per report.
  returned: always
  type: dict
"""
