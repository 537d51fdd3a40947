# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that keep diffserv_links within the hosts a run audits (its --limit, an AWX job slice)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documented in links_within.yml and links_outside.yml beside this file (one file, two filters).


def _host(end):
    return str(end).split(":", 1)[0]


def links_within(links, hosts):
    selected = set(hosts or [])
    return [link for link in links or [] if _host(link.get("from")) in selected and _host(link.get("to")) in selected]


def links_outside(links, hosts):
    selected = set(hosts or [])
    notes = []
    for link in links or []:
        left = [_host(link.get(end)) for end in ("from", "to") if _host(link.get(end)) not in selected]
        if left:
            notes.append("%s -> %s: not audited (%s outside the hosts this run selects)"
                         % (link.get("from"), link.get("to"), " and ".join(sorted(set(left)))))
    return notes


class FilterModule(object):
    def filters(self):
        return {"links_within": links_within, "links_outside": links_outside}
