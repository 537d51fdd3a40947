# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netmiko sessions that collect configurations live (the collection's one netmiko import).

One function a session flavour, chosen from a plain dict (`SESSIONS`) by the platform driver, as netmiko's own dispatcher
does.  Only show commands are sent: `iptables-save` / `ip6tables-save` on Linux (through sudo when
the user is not root), `show running-config` on IOS (netmiko's session preparation sends
`terminal length 0` and `terminal width 511` first).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import difflib
import os
import re
import secrets
import socket
import time
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.platforms.base import Driver, LiveCommand

try:
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout
    HAS_NETMIKO = True
    NETMIKO_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - exercised only without netmiko
    HAS_NETMIKO = False
    NETMIKO_IMPORT_ERROR = import_error

SUDO_PROMPT = "diffserv-sudo-password:"


class CollectError(Exception):
    """A device could not be collected; `unreachable` tells a connection problem from the rest."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclasses.dataclass(frozen=True)
class Target:
    host: str
    port: int
    username: str
    password: str | None = dataclasses.field(default=None, repr=False)
    key_file: str | None = None
    become_password: str | None = dataclasses.field(default=None, repr=False)
    host_key_checking: bool = True
    known_hosts: str | None = None
    timeout: float = 30.0
    retries: int = 2


@dataclasses.dataclass(frozen=True)
class Collected:
    name: str  # "iptables-save", "ip6tables-save", "nft-ruleset", "running-config"
    text: str
    command: str
    refused: str | None = None  # why the host's sudo would not run it (the text is then empty)


def _connect(target: Target, device_type: str) -> t.Any:
    if not HAS_NETMIKO:
        raise CollectError("netmiko is not installed on the controller: %s" % NETMIKO_IMPORT_ERROR)
    params: dict[str, t.Any] = {
        "device_type": device_type, "host": target.host, "port": target.port, "username": target.username,
        "conn_timeout": target.timeout, "auth_timeout": target.timeout, "banner_timeout": target.timeout,
        "read_timeout_override": target.timeout,
        # fast_cli keeps netmiko's internal sleeps short; measured in the lab it halves session set-up.
        "fast_cli": True,
        # Host keys: checked against the user's known_hosts (and an extra file) unless turned off.
        "ssh_strict": target.host_key_checking, "system_host_keys": target.host_key_checking,
    }
    if target.known_hosts:
        params.update(alt_host_keys=True, alt_key_file=os.path.expanduser(target.known_hosts))
    if target.password is not None:
        params["password"] = target.password
    if target.key_file:
        params.update(use_keys=True, key_file=os.path.expanduser(target.key_file))
    else:
        params.update(use_keys=False, allow_agent=False)
    if target.become_password is not None:
        params["secret"] = target.become_password
    attempt = 0
    while True:
        attempt += 1
        try:
            return ConnectHandler(**params)
        except NetmikoAuthenticationException as error:
            raise CollectError("authentication failed for %s@%s:%d: %s" % (
                target.username, target.host, target.port, _first_line(error))) from None
        except (NetmikoTimeoutException, socket.error, EOFError) as error:
            if attempt > target.retries:
                raise CollectError("cannot reach %s:%d after %d attempt(s): %s" % (
                    target.host, target.port, attempt, _first_line(error)), unreachable=True) from None
            time.sleep(min(2.0 * attempt, 5.0))
        except Exception as error:  # paramiko raises its own types for bad host keys and the like
            message = _first_line(error)
            if "host key" in message.lower() or "not found in known_hosts" in message.lower():
                raise CollectError("host key of %s:%d not trusted (%s); add it to known_hosts or set "
                                   "ansible_host_key_checking: false" % (target.host, target.port, message)) from None
            raise CollectError("cannot connect to %s:%d: %s" % (target.host, target.port, message),
                               unreachable=True) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0] if text.splitlines() else text


def _prompt_pattern(connection: t.Any) -> str:
    return re.escape(connection.base_prompt) + r"[^\n]{0,40}[>#$%]\s*$"


def _run(connection: t.Any, command: str, target: Target, expect: str | None = None) -> str:
    try:
        if expect:
            return connection.send_command(command, expect_string=expect, read_timeout=target.timeout,
                                           strip_prompt=False, strip_command=True, cmd_verify=False)
        # cmd_verify off: netmiko would otherwise wait a fixed 10 s for the echo, whatever the timeout.
        # The prompt we already know ends the read: no find_prompt() round trip (>= 0.25 s) per
        # command. Anchored at the end of the output, so the `hostname` line inside a running
        # configuration cannot end it early.
        return connection.send_command(command, read_timeout=target.timeout, cmd_verify=False,
                                       auto_find_prompt=False, expect_string=_prompt_pattern(connection))
    except ReadTimeout:
        raise CollectError("%s:%d stopped answering during %r (no prompt within %.0f s); nothing collected "
                           "from it is used" % (target.host, target.port, command, target.timeout)) from None
    except (OSError, EOFError) as error:
        raise CollectError("%s:%d closed the session during %r: %s" % (
            target.host, target.port, command, _first_line(error)), unreachable=True) from None


def _linux_privileged(connection: t.Any, command: str, target: Target) -> str:
    """Run a command as root: directly for root, else `sudo -n`, else sudo with the become password."""
    if target.username == "root":
        return _run(connection, command, target)
    output = _run(connection, "sudo -n %s 2>&1" % command, target)
    _refused_by_sudo(output, command, target)
    if "password is required" not in output and not output.startswith("sudo:"):
        return output
    if target.become_password is None:
        raise CollectError("sudo on %s asks for a password: set ansible_become_password (or allow "
                           "'%s' without one)" % (target.host, command))
    # The password goes to sudo's own prompt on the channel, never on a command line (where `ps`
    # on the device would show it); the reply is read up to the shell prompt.
    try:
        connection.write_channel("sudo -k -p '%s' %s\n" % (SUDO_PROMPT, command))
        first = connection.read_until_pattern(
            # at a line start: the echoed command line holds the same text after "-p '"
            pattern=r"^%s|%s" % (re.escape(SUDO_PROMPT), re.escape(connection.base_prompt)), re_flags=re.M,
            read_timeout=target.timeout)
        if SUDO_PROMPT not in first:
            raise CollectError("sudo on %s did not ask for a password as expected: %s"
                               % (target.host, first.strip()[:200]))
        connection.write_channel(target.become_password + "\n")
        output = connection.read_until_prompt(read_timeout=target.timeout)
    except ReadTimeout:
        raise CollectError("%s:%d stopped answering during sudo %r (no prompt within %.0f s); nothing collected "
                           "from it is used" % (target.host, target.port, command, target.timeout)) from None
    if "Sorry, try again" in output or "incorrect password" in output:
        connection.write_channel("\x03")
        raise CollectError("sudo on %s refused the become password" % target.host)
    lines = output.split("\n")
    # Drop the newline echoed after the password and the closing prompt line.
    if lines and lines[-1].strip().startswith(connection.base_prompt):
        lines = lines[:-1]
    text = "\n".join(line.rstrip("\r") for line in lines).strip("\n") + "\n"
    _refused_by_sudo(text, command, target)
    return text


def _refused_by_sudo(output: str, command: str, target: Target) -> None:
    """sudo runs some commands for this user, not this one: its first line says so."""
    first = output.lstrip("\n").split("\n")[0].strip()
    if first.startswith("Sorry, user ") and "is not allowed to execute" in first:
        raise CollectError("sudo on %s does not allow %r: %s" % (target.host, command, first))


def _close(connection: t.Any, failed: bool) -> None:
    """Log out politely; a device that stopped answering is cut off at once instead."""
    try:
        if failed:
            connection.paramiko_cleanup()
        else:
            connection.disconnect()
    except Exception:  # closing is best effort: the result is already decided
        pass


def _present_tools(connection: t.Any, tools: t.Sequence[str], target: Target) -> set[str]:
    """Which of the tools the host has, asked in one round trip (a non-root user's PATH often lacks
    /usr/sbin, which sudo's secure_path has: the sbin directories are looked in too)."""
    probe = "; ".join("{ command -v %s || ls /usr/sbin/%s /sbin/%s; } >/dev/null 2>&1 && echo 'present:%s'"
                      % (tool, tool, tool, tool) for tool in tools)
    output = _run(connection, probe, target)
    return {tool for tool in tools if "present:%s" % tool in output.split()}


def collect_linux(target: Target, commands: t.Sequence[LiveCommand], with_ipv6: bool = True,
                  extra: t.Callable[..., list[Collected]] | None = None) -> list[Collected]:
    """The commands on a Linux host, as root (sudo when needed), each where the host has its tool.

    The first present command is required: a refused sudo fails the host.  A later one the host's
    sudo refuses (a sudoers rule written for iptables-save only, asked for `nft list ruleset`) is
    collected as a refusal, so the audit says what it could not see instead of failing the host."""
    connection = _connect(target, "linux")
    failed = True
    try:
        wanted = [command for command in commands if command.family != 6 or with_ipv6]
        present = _present_tools(connection, sorted({command.command.split()[0] for command in wanted}), target)
        found: list[Collected] = []
        for command in wanted:
            if command.command.split()[0] not in present:
                continue
            try:
                text = _linux_privileged(connection, command.command, target)
            except CollectError as error:
                if not found or error.unreachable or "sudo" not in str(error):
                    raise
                found.append(Collected(command.name, "", command.command, refused=str(error)))
                continue
            found.append(Collected(command.name, text, command.command))
        if not found:
            raise CollectError("%s has none of %s: nothing to collect" % (
                target.host, ", ".join(sorted({command.command.split()[0] for command in wanted}))))
        if extra is not None:  # more show commands on the same session (live_counters.reader)
            found.extend(extra(connection, target, found))
        failed = False
        return found
    finally:
        _close(connection, failed)


IOS_RUNNING = (LiveCommand("running-config", "show running-config"),)


def collect_ios(target: Target, commands: t.Sequence[LiveCommand] = IOS_RUNNING, with_ipv6: bool = True,
                extra: t.Callable[..., list[Collected]] | None = None) -> list[Collected]:
    connection = _connect(target, "cisco_ios")
    failed = True
    try:
        if not connection.check_enable_mode():
            if target.become_password is None:
                raise CollectError("%s is in user EXEC mode: set ansible_become_password (the enable secret) "
                                   "to read the running configuration" % target.host)
            try:
                connection.enable()
            except (ValueError, ReadTimeout) as error:
                raise CollectError("enable refused on %s: %s" % (target.host, _first_line(error))) from None
        found = [Collected(command.name, _run(connection, command.command, target), command.command) for command in commands]
        if extra is not None:  # more show commands on the same session (live_counters.reader)
            found.extend(extra(connection, target, found))
        failed = False
        return found
    finally:
        _close(connection, failed)


# One function a session flavour (a driver's `session`), as netmiko's own dispatcher does.
SESSIONS: dict[str, t.Callable[..., list[Collected]]] = {"linux": collect_linux, "ios": collect_ios}


def collect_live(driver: Driver, target: Target, with_ipv6: bool = True,
                 commands: t.Sequence[LiveCommand] | None = None,
                 extra: t.Callable[..., list[Collected]] | None = None) -> list[Collected]:
    """What the driver's live commands (or `commands`) print on the device, through the session flavour it names."""
    return SESSIONS[driver.session](target, driver.live_commands if commands is None else commands, with_ipv6=with_ipv6,
                                    extra=extra)


def shared_commands(driver: Driver, drivers: t.Iterable[Driver]) -> tuple[LiveCommand, ...]:
    """The show commands of every driver of the same role and session flavour, the driver's own first:
    what a Linux firewall is asked when the inventory says only that it is one (iptables-save,
    ip6tables-save, nft list ruleset), so the platform can come from what it runs."""
    found: dict[str, LiveCommand] = {command.name: command for command in driver.live_commands}
    for other in drivers:
        if other.role == driver.role and other.session == driver.session:
            for command in other.live_commands:
                found.setdefault(command.name, command)
    return tuple(found.values())


@dataclasses.dataclass(frozen=True)
class Running:
    """What a Linux firewall runs, told from what its commands printed (redacted already).

    `platform` is the driver that reads it; `items` what the collection holds; `companions` the
    iptables dumps analysed with the native nft tables when a host runs both (iptables-nft or legacy
    tables beside tables written with nft: both act on the same packets, on their hooks by priority);
    `notes` say which was found."""

    platform: str
    items: tuple[Collected, ...]
    companions: tuple[Collected, ...] = ()
    notes: tuple[str, ...] = ()


_TABLE_LINE = re.compile(r"^table (\S+) (\S+) \{", re.MULTILINE)
_IPTABLES_NFT_WARNING = re.compile(r"^# Warning: table (\S+) (\S+) is managed by iptables-nft", re.MULTILINE)


def _only_iptables_nft(listing: str) -> bool:
    """Whether every table of a listing is one nft warns iptables-nft manages (nft 1.0.6 prints the warning
    on stderr, which the session keeps): then the host has no native table, and the listing, as big as its
    iptables rules, is not parsed at all."""
    tables = set(_TABLE_LINE.findall(listing))
    return bool(tables) and tables <= set(_IPTABLES_NFT_WARNING.findall(listing))


def what_runs(collected: t.Sequence[Collected], default: str) -> Running:
    """The platform of a Linux firewall collected with every firewall driver's commands.

    Native nft tables (tables `nft list ruleset` shows that iptables-nft does not manage) make it an
    nftables host; iptables rules beside them are analysed with them (`companions`); without native
    tables it is the iptables host it always was.  `default` is the platform the inventory gave.
    """
    # Imported here: the nft reader is needed only when a host was asked for its nft ruleset.
    from ansible_collections.diffserv.audit.plugins.module_utils import platforms
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.model import iptables_nft_tables
    from ansible_collections.diffserv.audit.plugins.module_utils.nftables.nftjson import read_ruleset

    nft = platforms.driver("nftables")
    listing = next((item for item in collected if item.name in nft.analysed_items), None)
    others = tuple(item for item in collected if item is not listing)
    dumps = tuple(item for item in others if item.text.strip())
    notes = tuple("%s: not collected: %s (rules it holds are not seen)" % (item.command, item.refused)
                  for item in collected if item.refused)
    native: list[str] = []
    iptables_nft: list[str] = []
    if listing is not None and listing.text.strip() and not _only_iptables_nft(listing.text):
        try:
            document = read_ruleset(listing.text, listing.command)
        except ParseError as error:
            if not dumps:
                raise
            # The iptables host it was before nft was asked: its rules are read from iptables-save as
            # always; what the listing holds besides them is said to be unread, not guessed.
            return Running(next((driver.name for driver in platforms.DRIVERS.values()
                                 if dumps[0].name in driver.analysed_items), default), others, (), notes + (
                "nft list ruleset: not read (%s): native nft tables, if the host has any, are not analysed" % error,))
        managed = iptables_nft_tables(document)
        native = [table.key for table in document.tables if table.key not in managed]
        iptables_nft = sorted(managed)
    if listing is None or (not native and others):
        # No nft, or nft shows only what iptables-nft made: the iptables host it always was, read by
        # the driver whose items the dumps are.
        owner = next((driver.name for driver in platforms.DRIVERS.values()
                      if others and others[0].name in driver.analysed_items), default)
        return Running(owner, others, (), notes)
    if not dumps:
        found = "native nft tables (%s)" % ", ".join(native) if native else "no table"
        return Running(nft.name, (listing,), (), notes + ("nft list ruleset: %s; iptables shows no rule" % found,))
    tables = sorted({line[1:].split()[0] for item in dumps for line in item.text.split("\n") if line.startswith("*")})
    said = ("nft list ruleset: native nft tables (%s) run beside iptables tables (%s%s): both are analysed, "
            "each base chain on its hook in priority order" % (
                ", ".join(native), ", ".join(tables),
                "; nft lists them as %s" % ", ".join(iptables_nft) if iptables_nft else ""))
    return Running(nft.name, dumps + (listing,), dumps, notes + (said,))


# --------------------------------------------------------------------------- applying a change

_DEVICE_ERROR = re.compile(r"^\s*(% .*|.*Invalid input detected.*|.*is being used.*)$", re.M)


@dataclasses.dataclass(frozen=True)
class Applied:
    """What a device did with a change: its running configuration before and after, what it said."""

    before: str
    after: str
    sent: tuple[str, ...]
    output: str
    rolled_back: bool = False
    saved: bool = False


def _show_running(connection: t.Any, target: Target) -> str:
    return _run(connection, "show running-config", target)


def apply_ios(target: Target, commands: t.Sequence[str], rollback: t.Sequence[str],
              audited: str, redact_text: t.Callable[[str], str], verify: t.Callable[[str], str | None],
              backup: t.Callable[[str], None], save: bool = False) -> Applied:
    """Apply one planned change to an IOS device, safely.

    Drift first: the running configuration must still be the audited one (compared redacted, as it
    was collected), or nothing is sent.  Then a backup, the commands, the device's own error
    lines checked, the configuration read back and verified (`verify` returns a reason to undo, or
    None); on any failure the rollback commands are sent and CollectError carries the device's words.
    """
    connection = _connect(target, "cisco_ios")
    failed = True
    try:
        if not connection.check_enable_mode():
            if target.become_password is None:
                raise CollectError("%s is in user EXEC mode: set ansible_become_password (the enable secret)"
                                   % target.host)
            connection.enable()
        before = _show_running(connection, target)
        drift = _drift(audited, redact_text(before))
        if drift:
            raise CollectError("%s: the running configuration changed since the audit; nothing was sent. "
                               "Lines that moved:\n%s" % (target.host, drift))
        backup(redact_text(before))
        try:
            output = connection.send_config_set(list(commands), read_timeout=target.timeout, cmd_verify=False)
        except (ReadTimeout, OSError, EOFError) as error:
            raise CollectError("%s stopped answering during the change (%s); %s" % (
                target.host, _first_line(error), _what_was_applied(target, audited, redact_text))) from None
        errors = _DEVICE_ERROR.findall(output)
        reason = None
        after = ""
        if errors:
            reason = "the device refused a command: %s" % "; ".join(e.strip() for e in errors[:5])
        else:
            after = _show_running(connection, target)
            reason = verify(redact_text(after))
        if reason is not None:
            undo = connection.send_config_set(list(rollback), read_timeout=target.timeout, cmd_verify=False)
            restored = redact_text(_show_running(connection, target))
            left = _drift(audited, restored)
            raise CollectError("%s: %s; rolled back%s" % (
                target.host, reason, "" if not left else ", but the configuration still differs from the audited "
                "one:\n%s\nrollback output:\n%s" % (left, undo.strip()[-1500:])))
        saved = False
        if save:
            connection.save_config()
            saved = True
        failed = False
        return Applied(before=redact_text(before), after=redact_text(after), sent=tuple(commands),
                       output=output, saved=saved)
    finally:
        _close(connection, failed)


def _what_was_applied(target: Target, audited: str, redact_text: t.Callable[[str], str]) -> str:
    """Read the device again on a new session and say exactly what the interrupted change left."""
    try:
        connection = _connect(dataclasses.replace(target, retries=0, timeout=min(target.timeout, 15.0)), "cisco_ios")
    except CollectError as error:
        return "it cannot be read back (%s): check it by hand before anything else" % error
    try:
        if not connection.check_enable_mode() and target.become_password is not None:
            connection.enable()
        now = redact_text(_show_running(connection, target))
    except (CollectError, ReadTimeout, OSError, EOFError, ValueError) as error:
        _close(connection, True)
        return "it cannot be read back (%s): check it by hand before anything else" % _first_line(error)
    _close(connection, False)
    applied = _drift(audited, now)
    return ("it applied nothing of it" if not applied else
            "what it applied, against the audited configuration:\n%s" % applied)


def _drift(expected: str, found: str) -> str:
    """The lines that differ between two running configurations, ignoring the volatile header."""
    volatile = ("Building configuration", "Current configuration", "!")

    def body(text: str) -> list[str]:
        lines = [line.rstrip() for line in text.split("\n")]
        return [line for line in lines if line and not line.startswith(volatile)]

    changed = difflib.unified_diff(body(expected), body(found), "audited", "running", n=0, lineterm="")
    delta = [line for line in changed if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return "\n".join(delta[:40])


_HEREDOC_END = "DIFFSERV_AUDIT_EOF"


def table_block(dump: str, table: str) -> str:
    """One `*table` ... `COMMIT` block of an iptables-save dump (what `iptables-restore -T` replaces)."""
    lines, inside = [], False
    for line in dump.split("\n"):
        if line.strip() == "*" + table:
            inside = True
        if inside:
            lines.append(line)
            if line.strip() == "COMMIT":
                break
    if not lines or lines[-1].strip() != "COMMIT":
        raise CollectError("the candidate has no complete *%s table" % table)
    return "\n".join(lines) + "\n"


def _rules_only(dump: str) -> list[str]:
    """The lines that say what the tables do: counters, comments and dates left out."""
    found = []
    for line in dump.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            line = line.rsplit(" [", 1)[0]
        elif line.startswith("["):
            line = line.split("] ", 1)[1]
        found.append(line)
    return found


def _restore_table(connection: t.Any, target: Target, block: str, table: str, tool: str = "iptables") -> str:
    """Write the table to a private file on the firewall and load it with one atomic iptables-restore
    (`tool` ip6tables: ip6tables-restore)."""
    if "<redacted:" in block:
        raise CollectError("the %s table to load carries a redacted value: refusing to send it" % table)
    path = "/tmp/diffserv-%s.rules" % table
    connection.write_channel("umask 077; cat > %s <<'%s'\n%s%s\n" % (path, _HEREDOC_END, block, _HEREDOC_END))
    connection.read_until_pattern(pattern=_prompt_pattern(connection), read_timeout=target.timeout)
    output = _linux_privileged(connection, "%s-restore -T %s %s" % (tool, table, path), target)
    _run(connection, "rm -f %s" % path, target)
    return output


def apply_iptables(target: Target, audited: str, candidate: str, redact_text: t.Callable[[str], str],
                   verify: t.Callable[[str], str | None], backup: t.Callable[[str], None],
                   table: str = "mangle", family: int = 4) -> Applied:
    """Apply a firewall change: the changed table only, with one atomic `iptables-restore -T` (family 6: the
    IPv6 dump, ip6tables-save and ip6tables-restore).

    The same safety as apply_ios: drift check against the audited dump (rules compared, counters
    ignored), a backup, the load, the dump read back and verified, and on any failure the table as
    it was restored the same atomic way.
    """
    tool = "ip6tables" if family == 6 else "iptables"
    connection = _connect(target, "linux")
    failed = True
    try:
        before = _linux_privileged(connection, tool + "-save", target)
        compared = difflib.unified_diff(_rules_only(audited), _rules_only(redact_text(before)), n=0, lineterm="")
        moved = [line for line in compared if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        if moved:
            raise CollectError("%s: the rules changed since the audit; nothing was loaded. Lines that moved:\n%s"
                               % (target.host, "\n".join(moved[:40])))
        backup(redact_text(before))
        output = _restore_table(connection, target, table_block(candidate, table), table, tool)
        after = _linux_privileged(connection, tool + "-save", target)
        reason = ("%s-restore refused the table: %s" % (tool, output.strip()[:500])) if output.strip() else \
            verify(redact_text(after))
        if reason is not None:
            _restore_table(connection, target, table_block(before, table), table, tool)
            restored = _linux_privileged(connection, tool + "-save", target)
            left = _rules_only(restored) != _rules_only(before)
            still = ", but the rules still differ from the audited ones" if left else ""
            raise CollectError("%s: %s; rolled back%s" % (target.host, reason, still))
        failed = False
        return Applied(before=redact_text(before), after=redact_text(after), sent=(table_block(candidate, table),),
                       output=output)
    finally:
        _close(connection, failed)


def _write_remote(connection: t.Any, target: Target, path: str, text: str) -> None:
    """A private file on the firewall, written by the session's user through a quoted here-document."""
    if "<redacted:" in text:
        raise CollectError("the file to load carries a redacted value: refusing to send it")
    connection.write_channel("umask 077; cat > %s <<'%s'\n%s%s\n" % (
        path, _HEREDOC_END, text if text.endswith("\n") else text + "\n", _HEREDOC_END))
    connection.read_until_pattern(pattern=_prompt_pattern(connection), read_timeout=target.timeout)


def _nft_file(connection: t.Any, target: Target, path: str, lines: t.Sequence[str], check: bool = False) -> str:
    """`nft -f` (or `nft -c -f`: parse and check against the kernel, load nothing) of one file: one transaction.
    What nft printed (nothing on success)."""
    _write_remote(connection, target, path, "\n".join(lines) + "\n")
    try:
        return _linux_privileged(connection, "nft %s-f %s" % ("-c " if check else "", path), target)
    finally:
        _run(connection, "rm -f %s" % path, target)


def apply_nftables(target: Target, audited: str, candidate: str, commands: t.Sequence[str], rollback: t.Sequence[str],
                   redact_text: t.Callable[[str], str], verify: t.Callable[[str], str | None],
                   backup: t.Callable[[str], None]) -> Applied:
    """Apply an nft host's change: one `nft -f` file, one transaction.

    The same safety as apply_iptables: drift check against the audited listing (rules compared, counter
    values and nft's warnings ignored), a backup of `nft list ruleset`, the file checked by nft (`-c`:
    nothing loaded) then loaded, the listing read back and checked against the plan (the table, its chain
    at the planned priority, its rules) and re-audited; on any failure the rollback file (deleting the
    table) is loaded the same way and the listing compared with the one before.
    """
    from ansible_collections.diffserv.audit.plugins.module_utils.remediation.nftables import (
        TABLE_KEY, applied_problem, rules_only,
    )

    connection = _connect(target, "linux")
    failed = True
    try:
        before = _linux_privileged(connection, "nft list ruleset", target)
        compared = difflib.unified_diff(rules_only(audited), rules_only(redact_text(before)), n=0, lineterm="")
        moved = [line for line in compared if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        if moved:
            raise CollectError("%s: the ruleset changed since the audit; nothing was loaded. Lines that moved:\n%s"
                               % (target.host, "\n".join(moved[:40])))
        backup(redact_text(before))
        # One name for the file checked and the file loaded (written again: the check removes it).
        path = "/tmp/diffserv-audit-%s.nft" % secrets.token_hex(6)
        checked = _nft_file(connection, target, path, commands, check=True)
        if checked.strip():
            raise CollectError("%s: nft refused the change when checking it (nft -c), nothing was loaded: %s"
                               % (target.host, checked.strip()[:500]))
        output = _nft_file(connection, target, path, commands)
        after = _linux_privileged(connection, "nft list ruleset", target)
        try:
            reason = ("nft refused the file: %s" % output.strip()[:500]) if output.strip() else \
                applied_problem(candidate, redact_text(after), target.host) or verify(redact_text(after))
        except Exception as error:  # pylint: disable=broad-except
            # Whatever stops the check (a listing the reader refuses, a re-audit that fails) undoes the change.
            reason = "the ruleset read back could not be checked (%s)" % _first_line(error)
        if reason is not None:
            if "table %s {" % TABLE_KEY in after:
                _nft_file(connection, target, path.replace(".nft", "-rollback.nft"), rollback)
            restored = _linux_privileged(connection, "nft list ruleset", target)
            still = ", but the ruleset still differs from the one before" \
                if rules_only(restored) != rules_only(before) else ""
            raise CollectError("%s: %s; rolled back%s" % (target.host, reason, still))
        failed = False
        return Applied(before=redact_text(before), after=redact_text(after), sent=("\n".join(commands) + "\n",),
                       output=output)
    finally:
        _close(connection, failed)


def _apply_iptables_change(target: Target, change: t.Any, redact_text: t.Callable[[str], str],
                           verify: t.Callable[[str], str | None], backup: t.Callable[[str], None]) -> Applied:
    return apply_iptables(target, change.running, change.candidate, redact_text, verify, backup,
                          family=getattr(change, "family", 4))


def _apply_nftables_change(target: Target, change: t.Any, redact_text: t.Callable[[str], str],
                           verify: t.Callable[[str], str | None], backup: t.Callable[[str], None]) -> Applied:
    return apply_nftables(target, change.running, change.candidate, change.commands, change.rollback, redact_text,
                          verify, backup)


# How a firewall change is loaded, by the `APPLY` its platform's writer names (remediation/<writer>.py).
FIREWALL_APPLY: dict[str, t.Callable[..., Applied]] = {"iptables-restore": _apply_iptables_change,
                                                       "nft -f": _apply_nftables_change}
