# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for diffserv.audit.collect: one host's configuration, live or from a saved file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import concurrent.futures
import datetime

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError, ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.ios.parse import parse_ios
from ansible_collections.diffserv.audit.plugins.module_utils.netfilter.parse import parse_dumps
from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact
from ansible_collections.diffserv.audit.plugins.plugin_utils.argspec import argument_spec
from ansible_collections.diffserv.audit.plugins.plugin_utils.files import read_config
from ansible_collections.diffserv.audit.plugins.plugin_utils.inventory import PlatformUnknown, platform_of
from ansible_collections.diffserv.audit.plugins.plugin_utils.session import COLLECTORS, CollectError, Target


def check_integrity(platform, name, text, source):
    """Parse once on the controller: a cut-short collection fails the host here."""
    if platform == "ios":
        config = parse_ios(text, source)
        return {"interfaces": len(config.interfaces), "diagnostics": [str(d) for d in config.diagnostics]}
    dumps = parse_dumps(text, source, family=6 if name == "ip6tables-save" else None)
    return {"tables": sorted({table for ruleset in dumps for table in ruleset.tables}),
            "rules": sum(ruleset.rule_count for ruleset in dumps),
            "dumps": [{"family": ruleset.family, "lines": list(ruleset.lines), "backend": ruleset.header.backend,
                       "tos_semantics": ruleset.header.era} for ruleset in dumps],
            "backend": dumps[0].header.backend, "tos_semantics": dumps[0].header.era,
            "diagnostics": [str(d) for ruleset in dumps for d in ruleset.diagnostics]}


def target_from(args, host_vars):
    """The SSH target of one host: task arguments first, then the inventory's variables."""
    def var(*names, default=None):
        for name in names:
            if host_vars.get(name) is not None:
                return host_vars[name]
        return default

    host = args["host"] or var("ansible_host", default=host_vars.get("inventory_hostname"))
    default_port = 22
    checking = args["host_key_checking"]
    if checking is None:
        checking = boolean(var("diffserv_host_key_checking", "ansible_host_key_checking",
                               "ansible_ssh_host_key_checking", default=C.HOST_KEY_CHECKING))
    username = args["username"] or var("ansible_user", "ansible_ssh_user")
    if not username:
        raise AnsibleActionFail("no user for %s: set ansible_user" % host)
    return Target(
        host=host, port=int(args["port"] or var("ansible_port", "ansible_ssh_port", default=default_port)),
        username=username,
        password=(args["password"] if args["password"] is not None
                  else var("ansible_password", "ansible_ssh_pass")),
        key_file=args["private_key_file"] or var("ansible_ssh_private_key_file", "ansible_private_key_file"),
        become_password=(args["become_password"] if args["become_password"] is not None
                         else var("ansible_become_password", "ansible_become_pass")),
        host_key_checking=checking, known_hosts=args["known_hosts"] or var("diffserv_known_hosts"),
        timeout=float(args["timeout"] if args["timeout"] is not None
                      else var("diffserv_collect_timeout", default=30)),
        retries=int(args["retries"] if args["retries"] is not None
                    else var("diffserv_collect_retries", default=2)),
    )


# Host variables the collection reads; in batch mode they are fetched (templated) from hostvars.
HOST_KEYS = ("inventory_hostname", "group_names", "diffserv_platform", "ansible_network_os", "diffserv_config_file",
             "diffserv_managed",
             "diffserv_host_key_checking", "ansible_host_key_checking", "ansible_ssh_host_key_checking",
             "diffserv_known_hosts", "diffserv_collect_timeout", "diffserv_collect_retries", "ansible_host",
             "ansible_port", "ansible_ssh_port", "ansible_user", "ansible_ssh_user", "ansible_password",
             "ansible_ssh_pass", "ansible_ssh_private_key_file", "ansible_private_key_file",
             "ansible_become_password", "ansible_become_pass")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("collect"))
        if args["hosts"] is not None:
            result.update(self._collect_many(args, task_vars))
            return result
        host_vars = {key: self._templar.template(task_vars[key]) for key in HOST_KEYS if task_vars.get(key) is not None}
        collection, error = self._collect_one(args, host_vars)
        if error is not None:
            result.update(failed=True, msg=error["reason"], diffserv_error=error["reason"])
            if error.get("unreachable"):
                result["unreachable"] = True
            return result
        result.update(changed=False, diffserv_collection=collection)
        return result

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
            values = {key: known.get(key) for key in HOST_KEYS}
            per_host[host] = {key: value for key, value in values.items() if value is not None}
        collections, errors, not_audited = {}, {}, {}
        if not args["platform"]:
            # Hosts whose platform nobody said (a switch, a server in the same inventory) are
            # listed with the reason, not collected and not failed.
            for host, values in per_host.items():
                if values is None:
                    continue
                try:
                    platform_of(values)
                except PlatformUnknown as error:
                    not_audited[host] = str(error)
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
        if platform not in COLLECTORS:
            return None, {"reason": "unknown platform %r (iptables or ios)" % platform}
        config_file = args["config_file"] or host_vars.get("diffserv_config_file")
        collected_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        try:
            if config_file:
                path = self._loader.path_dwim(config_file)
                name = "running-config" if platform == "ios" else (
                    "ip6tables-save" if args["family"] == 6 else "iptables-save")
                text, decoding = read_config(path, config_file)
                pieces = [(name, text, config_file, [note.as_dict() for note in decoding])]
                origin = "file"
            else:
                target = target_from(args, host_vars)
                collected = COLLECTORS[platform](target, **({"with_ipv6": args["ipv6"]} if platform == "iptables"
                                                            else {}))
                where = "%s@%s:%d" % (target.username, target.host, target.port)
                pieces = [(item.name, item.text, "%s (%s)" % (where, item.command), []) for item in collected]
                origin = "live"
            files = []
            for name, text, source, notes in pieces:
                if origin == "live" and platform == "iptables" and not text.strip():
                    # iptables-save prints nothing at all when no table is loaded (common for IPv6);
                    # a dump cut short still has its header or first table, and fails the parse below.
                    files.append({"name": name, "source": source, "text": "", "summary": {
                        "tables": [], "rules": 0, "note": "no table loaded: the command printed nothing"}})
                    continue
                # Redacted first, then checked: line numbers are kept, so the evidence still points at
                # the device's own lines, and no message of the check (nor anything downstream) can
                # quote a secret.
                text = redact(text)
                summary = check_integrity(platform, name, text, source)
                files.append({"name": name, "source": source, "text": text, "summary": summary, "notes": notes})
        except CollectError as error:
            return None, {"reason": str(error), "unreachable": error.unreachable}
        except (ParseError, DiffservError, AnsibleActionFail) as error:
            return None, {"reason": str(error)}
        return {
            "host": host_vars.get("inventory_hostname"), "platform": platform, "origin": origin,
            "collected_at": collected_at, "managed": boolean(host_vars.get("diffserv_managed", True)),
            "files": files,
        }, None
