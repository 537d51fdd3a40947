# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.collect: one host's configuration, live or from a saved file."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import concurrent.futures
import dataclasses
import datetime

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.diffserv.audit.plugins.module_utils import platforms
from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact, seal
from ansible_collections.diffserv.audit.plugins.plugin_utils.action_base import DiffservAction
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_config
from ansible_collections.diffserv.audit.plugins.plugin_utils.inventory import (
    HOST_KEYS, PlatformUnknown, platform_of, split_by_platform, target_from,
)
from ansible_collections.diffserv.audit.plugins.plugin_utils import live_counters
from ansible_collections.diffserv.audit.plugins.plugin_utils.session import (
    CollectError, collect_live, shared_commands, what_runs,
)


def _reader(driver, name):
    """The driver that checks one collected item: the one whose item it is (an nftables host that also
    runs iptables holds iptables-save dumps), else the host's."""
    if name in driver.analysed_items:
        return driver
    return next((other for other in platforms.DRIVERS.values() if name in other.analysed_items), driver)


class ActionModule(DiffservAction):
    def run_core(self, args, task_vars):
        if args["hosts"] is not None:
            return self._collect_many(args, task_vars)
        host_vars = {key: self._templar.template(task_vars[key]) for key in HOST_KEYS + live_counters.HOST_KEYS
                     if task_vars.get(key) is not None}
        collection, error = self._collect_one(args, host_vars)
        if error is not None:
            # One host's failure is the task's: the reason as msg, and unreachable when the
            # session never opened, as Ansible reports a host it cannot reach.
            failed = dict(failed=True, msg=error["reason"], diffserv_error=error["reason"])
            if error.get("unreachable"):
                failed["unreachable"] = True
            return failed
        return dict(changed=False, diffserv_collection=collection)

    def _collect_many(self, args, task_vars):
        """Batch mode: every listed host, live sessions in a thread pool, saved files read in turn.

        One action for the fleet costs far less than one Ansible task a host (each forks a
        worker); a host that fails is reported under `errors` and the batch goes on.
        """
        hostvars = task_vars.get("hostvars", {})
        per_host = {}
        for host in args["hosts"]:
            known = hostvars.get(host)
            if known is None:
                per_host[host] = None
                continue
            values = {key: known.get(key) for key in HOST_KEYS + live_counters.HOST_KEYS}
            per_host[host] = {key: value for key, value in values.items() if value is not None}
        collections, errors, not_audited = {}, {}, {}
        if not args["platform"]:
            # Hosts whose platform nobody said (a switch, a server in the same inventory) are
            # listed with the reason, not collected and not failed.
            known = {host: values for host, values in per_host.items() if values is not None}
            _audited, not_audited = split_by_platform(known, known)
            per_host = {host: values for host, values in per_host.items() if host not in not_audited}

        def one(host):
            if per_host[host] is None:
                return host, None, {"host": host, "reason": "%s is not in the inventory" % host}
            collection, error = self._collect_one(args, per_host[host])
            return host, collection, error

        live = [h for h in per_host if per_host[h] is not None and not per_host[h].get("diffserv_config_file")
                and not args["config_file"]]
        offline = [h for h in per_host if h not in live]
        outcomes = [one(host) for host in offline]
        if live:
            with concurrent.futures.ThreadPoolExecutor(max_workers=args["workers"]) as pool:
                outcomes.extend(pool.map(one, live))
        for host, collection, error in outcomes:
            if error is not None:
                errors[host] = dict(error, host=host)
            else:
                collections[host] = collection
        return {"changed": False, "collections": collections, "errors": errors, "not_audited": not_audited,
                "failed_hosts": sorted(errors)}

    def _collect_one(self, args, host_vars):
        """(collection, None) or (None, {reason, unreachable}) for one host's variables."""
        try:
            platform = args["platform"] or platform_of(host_vars)
        except PlatformUnknown as error:
            return None, {"reason": str(error)}
        try:
            driver = platforms.driver(platform)
        except DiffservError as error:
            return None, {"reason": str(error)}
        config_file = args["config_file"] or host_vars.get("diffserv_config_file")
        collected_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        companions, refused = [], {}
        try:
            if config_file:
                path = self._loader.path_dwim(config_file)
                text, decoding = read_config(path, config_file)
                if not (args["platform"] or host_vars.get("diffserv_platform")):
                    # A platform from the group is a role: the saved file's content says which driver reads it
                    # (an nft listing saved for a host in linux_firewalls); diffserv_platform forces one.
                    platform = platforms.saved_platform(platform, text)
                    driver = platforms.driver(platform)
                name = driver.saved_item_name(args["family"])
                pieces = [(name, text, config_file, [note.as_dict() for note in decoding])]
                origin = "file"
            else:
                target = target_from(args, host_vars)
                # A firewall whose platform comes from its group is asked what every firewall driver of
                # its session asks (iptables-save, ip6tables-save, nft list ruleset), and read by the one
                # what it runs names; diffserv_platform (or the platform option) forces one.
                chooses = driver.role == platforms.FIREWALL and not (args["platform"] or host_vars.get("diffserv_platform"))
                commands = shared_commands(driver, platforms.DRIVERS.values()) if chooses else None
                collected = collect_live(driver, target, with_ipv6=args["ipv6"], commands=commands,
                                         extra=live_counters.reader(live_counters.plan_from(host_vars)))
                # Redacted first, before anything reads it (even which platform the host runs).
                collected = [dataclasses.replace(item, text=redact(item.text)) for item in collected]
                collected, readings = live_counters.split(collected)  # diffserv_counters: items of their own
                where = "%s@%s:%d" % (target.username, target.host, target.port)
                said = ()
                found_with = ()
                if chooses:
                    running = what_runs(collected, platform)
                    platform, driver = running.platform, platforms.driver(running.platform)
                    collected, found_with, said = list(running.items), running.companions, running.notes
                pieces = [(item.name, item.text, "%s (%s)" % (where, item.command), []) for item in collected]
                refused = {item.name: item.refused for item in collected if item.refused}
                if said and pieces:
                    # Said in the findings (unmodeled notes), never decided in silence.
                    last = pieces[-1]
                    pieces[-1] = last[:3] + ([{"file": last[2], "line": None, "text": "", "reason": reason}
                                              for reason in said],)
                companions = [{"name": item.name, "source": "%s (%s)" % (where, item.command), "text": item.text}
                              for item in found_with]
                origin = "live"
            files = []
            for name, text, source, notes in pieces:
                if origin == "live" and driver.role == platforms.FIREWALL and not text.strip():
                    # iptables-save prints nothing at all when no table is loaded (common for IPv6);
                    # a dump cut short still has its header or first table, and fails the parse below.
                    files.append({"name": name, "source": source, "text": "", "summary": {
                        "tables": [], "rules": 0, "note": "not collected: %s" % refused[name] if name in refused
                        else "no table loaded: the command printed nothing"}, "notes": notes})
                    continue
                if origin == "file":
                    # Redacted first, then checked: line numbers are kept, so the evidence still points at
                    # the device's own lines, and no message of the check (nor anything downstream) can
                    # quote a secret. (Live texts were redacted as they arrived.)
                    text = redact(text)
                reader = _reader(driver, name)
                summary = reader.check(name, text, source) if args["check"] else {"checked": False}
                # `redacted`: the seal of the redacted text, by which the analysis need not redact it again.
                entry = {"name": name, "source": source, "text": text, "redacted": seal(text), "summary": summary,
                         "notes": notes}
                if companions and name in driver.analysed_items:
                    # The iptables dumps the native tables are analysed with (their own items are above).
                    entry["iptables"] = companions
                files.append(entry)
            if origin == "live":
                files.extend(live_counters.file_items(readings, where))
        except CollectError as error:
            return None, {"reason": str(error), "unreachable": error.unreachable}
        except (ParseError, DiffservError, AnsibleActionFail, live_counters.PlanError) as error:
            return None, {"reason": str(error)}
        return {
            "host": host_vars.get("inventory_hostname"), "platform": platform, "origin": origin,
            "collected_at": collected_at, "managed": boolean(host_vars.get("diffserv_managed", True)),
            "files": files,
        }, None
