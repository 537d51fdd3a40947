#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the stored_collections action plugin (plugins/action/stored_collections.py does the work)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: stored_collections
short_description: Keep each host's collection for an analysis run later, or read them all back
description:
  - Scale-out as AWX and Automation Platform do it, with job slicing, runs the collection on slices of
    the inventory; the analysis must see every host. This action is the hand-over between the two.
  - With O(save), takes what M(diffserv.audit.collect) returned for a batch of hosts and returns, per
    host, the record to keep (C(facts), for a cacheable fact C(diffserv_collected)) and, with
    O(collection_dir), writes it as C(<collection_dir>/<host>.json). The texts were redacted when collected.
  - Without O(save), reads the record of every host in O(hosts) from its fact C(diffserv_collected) (the
    fact cache, be it C(jsonfile), Redis or AWX's) or from O(collection_dir), and returns them in the shape the batch
    collection has (C(collections), C(errors), C(not_audited)), for M(diffserv.audit.analyze).
    A host with no record is an error C(not collected).
version_added: 0.2.0
author:
  - diffserv.audit contributors (!UNKNOWN)
options:
  save:
    description: The batch result of M(diffserv.audit.collect) to keep.
    type: dict
  hosts:
    description: The hosts whose records to read back (without O(save)).
    type: list
    elements: str
  collection_dir:
    description: A folder for one C(<host>.json) a host; empty means the fact cache alone.
    type: path
"""

EXAMPLES = r"""
- name: Keep each host's collection (the slices of a sliced job each run this)
  diffserv.audit.stored_collections:
    save: "{{ diffserv_collect }}"
    collection_dir: /shared/diffserv/collections
  register: diffserv_stored

- name: Read every host's collection back, in a later job that sees the whole inventory
  diffserv.audit.stored_collections:
    hosts: "{{ ansible_play_hosts_all }}"
    collection_dir: /shared/diffserv/collections
  register: diffserv_collect
"""

RETURN = r"""
facts:
  description: With O(save), host -> the record kept (C(collection), C(error) or C(not_audited)).
  returned: with O(save)
  type: dict
written:
  description: With O(save) and O(collection_dir), the files written.
  returned: with O(save)
  type: list
  elements: str
collections:
  description: Without O(save), host -> its collection.
  returned: without O(save)
  type: dict
errors:
  description: Without O(save), host -> why it has no collection.
  returned: without O(save)
  type: dict
not_audited:
  description: Without O(save), host -> why it is not audited.
  returned: without O(save)
  type: dict
"""
