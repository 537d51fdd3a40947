# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.stored_collections: the hand-over between sliced collection and one analysis."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact_data
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction

FACT = "diffserv_collected"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def records(batch):
    """host -> the record to keep, from a batch collect result."""
    kept = {}
    for host, collection in (batch.get("collections") or {}).items():
        kept[host] = {"collection": collection}
    for host, error in (batch.get("errors") or {}).items():
        kept[host] = {"error": dict(error)}
    for host, reason in (batch.get("not_audited") or {}).items():
        kept[host] = {"not_audited": reason}
    return kept


def file_for(folder, host):
    # A host name is the file name; anything a file system could read as a path is replaced.
    return os.path.join(folder, "%s.json" % _SAFE.sub("_", host))


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        folder = args["collection_dir"]
        if args["save"] is not None:
            kept = redact_data(records(args["save"]))
            written = []
            if folder:
                os.makedirs(folder, mode=0o750, exist_ok=True)
                for host, record in sorted(kept.items()):
                    path = file_for(folder, host)
                    with open(path, "w", encoding="utf-8") as handle:
                        json.dump(dict(record, host=host), handle, sort_keys=True)
                    os.chmod(path, 0o640)
                    written.append(path)
            return {"changed": bool(written), "facts": kept, "written": written}
        hostvars = task_vars.get("hostvars", {})
        collections, errors, not_audited = {}, {}, {}
        for host in args["hosts"] or []:
            record = (hostvars.get(host) or {}).get(FACT)
            if not record and folder and os.path.isfile(file_for(folder, host)):
                try:
                    with open(file_for(folder, host), encoding="utf-8") as handle:
                        record = json.load(handle)
                except (OSError, ValueError) as error:
                    raise DiffservError("%s: cannot be read: %s" % (file_for(folder, host), error)) from None
            if not record:
                errors[host] = {"host": host, "reason": "%s: not collected (no stored collection in the fact cache%s)"
                                % (host, " or %s" % folder if folder else "")}
            elif "collection" in record:
                collections[host] = record["collection"]
            elif "not_audited" in record:
                not_audited[host] = record["not_audited"]
            else:
                errors[host] = dict(record.get("error") or {"reason": "collection failed"}, host=host)
        return {"changed": False, "collections": collections, "errors": errors, "not_audited": not_audited,
                "failed_hosts": sorted(errors)}
