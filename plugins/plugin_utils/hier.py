# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one hier_config import: IOS commands and rollback from running and intended configurations.

hier_config (3.x) computes what to type to go from one configuration to another, but its
Cisco IOS driver has two gaps that matter for DS-byte policies (measured with 3.7.1 on the
founding router, shared/reference/landscape.md section 2):

* **Numbered access lists.**  It negates an entry of `access-list 106` as
  `no access-list 106 permit ...`, which on IOS deletes the *whole* list.  Its plan to move
  ACL 106 from DSCP 1 to 3 deletes and re-creates the list, so for a moment the route-map
  matching it refers to a missing list, and a route-map clause matching a missing list matches
  every packet: all uplink traffic goes to Null0 until the new entry is typed.
* **Removal order.**  It negates top-level lines in running-config order, then edits
  sections: `no access-list 106`, `no route-map null_policy_route`, and only then the
  interface's `no ip policy route-map`.  Every command in between leaves a referenced object
  missing while it is still in use.

`DiffservIosDriver` fixes both through hier_config's own extension points, not by rewriting
its text output: a post-load callback turns numbered lists into `ip access-list extended N`
sections whose entries carry sequence numbers (so an entry is removed with `no 10`, inside
the list), ordering rules that create and edit definitions before the interfaces that use
them and delete definitions only after the interfaces let go of them, a negation rule that
removes an entry by its sequence number, and an idempotency rule so a class's `set dscp`
is replaced in one command instead of removed and re-added.

>>> running = "access-list 106 permit ip any any dscp 1\\nend\\n"
>>> intended = "access-list 106 permit ip any any dscp 3\\nend\\n"
>>> staged_commands(running, [intended]).commands
('ip access-list extended 106', ' 20 permit ip any any dscp 3', ' no 10', ' exit')
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses
import re
import typing as t

from ansible_collections.diffserv.audit.plugins.module_utils.errors import DiffservError
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.text import spread_sequences

try:
    from hier_config import HConfig, HConfigChild, get_hconfig
    from hier_config.models import IdempotentCommandsRule, MatchRule, NegationSubRule, OrderingRule
    from hier_config.platforms.cisco_ios.driver import HConfigDriverCiscoIOS
    from hier_config.platforms.driver_base import HConfigDriverRules
    from hier_config.platforms.utils import split_vlan_id_lists
    HAS_HIER_CONFIG = True
    HIER_CONFIG_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - exercised only without hier_config
    HAS_HIER_CONFIG = False
    HIER_CONFIG_IMPORT_ERROR = import_error
    # The module still imports (ansible-doc, sanity): every entry point says what is missing first.
    HConfigDriverCiscoIOS = object  # type: ignore[misc,assignment]

_NUMBERED = re.compile(r"^access-list (\d+) (.+)$")
_ACL_SECTION = re.compile(r"^ip access-list (standard|extended) (\S+)$")
_ACL6_SECTION = re.compile(r"^ipv6 access-list (\S+)$")
# An IPv6 entry as running-config prints it: `sequence 10 permit ...` (IOS-XE) or `permit ... sequence 10` (IOS).
_SEQ6_FIRST = re.compile(r"^sequence (\d+) (.+)$")
_SEQ6_LAST = re.compile(r"^(.+) sequence (\d+)$")
# The key under which an IPv6 list's numbers are kept (IPv6 names are a namespace of their own).
IPV6_PREFIX = "ipv6 "
_ENTRY_WORDS = ("permit", "deny", "evaluate", "dynamic")

# Weights: 0 is hier_config's default; lower runs earlier.  Definitions are created and edited
# before the interfaces that attach them (an ACL before the route-map or class-map that
# matches it, a class-map before the policy-map that names it) and deleted only after every
# interface has let go of them, in the reverse order.
_ORDERING: tuple[tuple[tuple[dict[str, t.Any], ...], int], ...] = (
    (({"startswith": ("ip access-list ", "access-list ", "ipv6 access-list ")},), -40),
    (({"startswith": "class-map "},), -30),
    # A class-map this collection defines to exempt flows (remediation/exempt_flows.py) before the class-map that
    # comes to name it with `match class-map` (of two rules that match a line, hier_config applies the later).
    (({"startswith": "class-map match-all DIFFSERV-"},), -35),
    (({"startswith": ("route-map ", "policy-map ")},), -20),
    (({"startswith": ("no route-map ", "no policy-map ")},), 110),
    (({"startswith": "no class-map "},), 120),
    (({"startswith": ("no ip access-list ", "no access-list ", "no ipv6 access-list ")},), 130),
    # Inside a list, the new entry goes in before the old one leaves (distinct sequence
    # numbers, see _number_entries): the list is never empty, and no packet is matched by
    # neither the old nor the new entry.
    (({"startswith": "ip access-list "}, {"re_search": r"^no \d+$"}), 10),
    (({"startswith": "ipv6 access-list "}, {"re_search": r"^no (permit|deny) .* sequence \d+$"}), 10),
)


def require_hier_config() -> None:
    """Fail with what to install when hier_config is missing (it is a controller requirement)."""
    if not HAS_HIER_CONFIG:
        raise DiffservError("remediation needs the Python package hier-config 3.x on the controller "
                            "(pip install 'hier-config>=3.7,<4'): %s" % HIER_CONFIG_IMPORT_ERROR)


def _is_ip_acl_number(number: int) -> bool:
    """IP access lists: standard 1-99 and 1300-1999, extended 100-199 and 2000-2699."""
    return 1 <= number <= 199 or 1300 <= number <= 2699


def _acl_kind(number: int) -> str:
    return "standard" if number <= 99 or 1300 <= number <= 1999 else "extended"


class DiffservIosDriver(HConfigDriverCiscoIOS):
    """hier_config's Cisco IOS driver with numbered-ACL editing and safe removal order.

    `acl_sequences` maps an access list's name to {entry text: sequence number}: the numbers
    the device is known (or assumed) to hold.  Entries without one get numbers as IOS would
    give them (10, 20, ... on a list loaded from text), and an entry a later configuration
    adds gets a free number between its neighbours, remembered for every configuration this
    driver loads afterwards, so that running, every stage and the candidate agree.
    """

    def __init__(self, acl_sequences: t.Mapping[str, t.Mapping[str, int]] | None = None) -> None:
        require_hier_config()
        super().__init__()
        self.sequences: dict[str, dict[str, int]] = {
            name: dict(entries) for name, entries in (acl_sequences or {}).items()}
        # The stock callbacks drop remarks, number IPv4 entries by position and strip IPv6 sequence
        # numbers; ours keep remarks (a list deleted and re-created must come back whole) and number the
        # entries of both families by content, so that an entry is added and removed by its number.
        self.rules.post_load_callbacks[:] = [
            self._number_ipv6_entries,
            self._numbered_acls_as_sections,
            self._number_entries,
            split_vlan_id_lists,
        ]

    @staticmethod
    def _instantiate_rules() -> "HConfigDriverRules":
        rules = HConfigDriverCiscoIOS._instantiate_rules()
        rules.ordering.extend(OrderingRule(match_rules=tuple(MatchRule(**rule) for rule in match), weight=weight)
                              for match, weight in _ORDERING)
        # `no 10 permit ip any any dscp 1` -> `no 10`: an entry leaves by its number.
        rules.negation_sub.append(NegationSubRule(
            match_rules=(MatchRule(startswith="ip access-list "), MatchRule(re_search=r"^\d+ ")),
            search=r"^no (\d+) .*$", replace=r"no \1"))
        # A class marks once: `set ip dscp 3` replaces `set ip dscp 1` on IOS, so the class
        # never passes a moment without its marking.
        for prefix in ("set dscp ", "set ip dscp ", "set precedence ", "set ip precedence "):
            rules.idempotent_commands.append(IdempotentCommandsRule(match_rules=(
                MatchRule(startswith="policy-map "), MatchRule(startswith="class "),
                MatchRule(startswith=prefix))))
        # One space a level, as `show running-config` prints it: the commands read like the config.
        return rules.model_copy(update={"indentation": 1})

    # ------------------------------------------------------------------ post-load callbacks
    def _numbered_acls_as_sections(self, config: "HConfig") -> None:
        """`access-list 106 permit ...` lines -> one `ip access-list extended 106` section.

        IOS edits a numbered list the same way as a named one once you enter it with
        `ip access-list extended 106`; this is the only way to remove one entry without
        deleting the list.  The section takes the place of the list's first line.
        """
        order: list["HConfigChild"] = []
        sections: dict[str, "HConfigChild"] = {}
        entries: dict[str, list[str]] = {}
        for child in config.children:
            match = _NUMBERED.match(child.text)
            if match is None or not _is_ip_acl_number(int(match.group(1))):
                order.append(child)
                continue
            name = match.group(1)
            if name not in sections:
                header = "ip access-list %s %s" % (_acl_kind(int(name)), name)
                section = config.children.get(header) or config.instantiate_child(header)
                sections[name] = section
                if section not in order:
                    order.append(section)
            entries.setdefault(name, []).append(match.group(2))
        if not sections:
            return
        config.children.clear()
        for child in order:
            config.children.append(child)
        for name, texts in entries.items():
            for text in texts:
                # IOS ignores a duplicate entry; a duplicate remark cannot be told apart here.
                sections[name].add_child(text, return_if_present=True)

    def _number_entries(self, config: "HConfig") -> None:
        """Give every IPv4 ACL entry its sequence number (kept remarks carry none)."""
        for section in config.children:
            match = _ACL_SECTION.match(section.text)
            if match is None:
                continue
            self._number_list(match.group(2), section)

    def _number_ipv6_entries(self, config: "HConfig") -> None:
        """Give every IPv6 ACL entry its sequence number, written last as IOS takes it (`permit ... sequence
        10`): hier_config then adds an entry with its number and removes one with `no permit ... sequence 10`,
        the form Cisco's own cisco.ios acls module sends (its rm_templates/acls.py)."""
        for section in config.children:
            match = _ACL6_SECTION.match(section.text)
            if match is None:
                continue
            name = match.group(1)
            known = self.sequences.setdefault(IPV6_PREFIX + name, {})
            items: list[tuple["HConfigChild", str, int | None]] = []
            for entry in section.children:
                first, last = _SEQ6_FIRST.match(entry.text), _SEQ6_LAST.match(entry.text)
                if first is not None and first.group(2).split()[0] in _ENTRY_WORDS:
                    body, seq = first.group(2), int(first.group(1))
                elif last is not None and last.group(1).split()[0] in _ENTRY_WORDS:
                    body, seq = last.group(1), int(last.group(2))
                elif entry.text.split()[0] in _ENTRY_WORDS:
                    body, seq = entry.text, None
                else:
                    continue  # a remark (IOS numbers none), `exit`
                if seq is not None:
                    known.setdefault(body, seq)
                items.append((entry, body, seq if seq is not None else known.get(body)))
            for entry, body, seq in self._numbered(IPV6_PREFIX + name, known, items):
                entry.text = "%s sequence %d" % (body, seq)

    def _number_list(self, name: str, section: "HConfigChild") -> None:
        known = self.sequences.setdefault(name, {})
        items: list[tuple["HConfigChild", str, int | None]] = []
        for entry in section.children:
            words = entry.text.split(None, 1)
            if words[0].isdigit() and len(words) > 1:
                known.setdefault(words[1], int(words[0]))
                items.append((entry, words[1], int(words[0])))
            elif words[0] in _ENTRY_WORDS:
                items.append((entry, entry.text, known.get(entry.text)))
        for entry, text, seq in self._numbered(name, known, items):
            entry.text = "%d %s" % (seq, text)

    @staticmethod
    def _numbered(name: str, known: dict[str, int], items: list[tuple["HConfigChild", str, int | None]],
                  ) -> list[tuple["HConfigChild", str, int]]:
        """Every entry with its number: the one it carries or the device holds, else a free one between its
        neighbours (remembered in `known`, so running, the stages and the candidate agree)."""
        used = set(known.values())
        index = 0
        while index < len(items):
            if items[index][2] is not None:
                index += 1
                continue
            # A run of new entries between two numbered ones: spread over the gap, so that nine entries fit
            # before an entry IOS numbered 10 (exemptions go in before the entry they exempt from).
            end = index
            while end < len(items) and items[end][2] is None:
                end += 1
            low = next((s for _e, _t, s in reversed(items[:index]) if s is not None), 0)
            high = next((s for _e, _t, s in items[end:] if s is not None), None)
            for offset, seq in enumerate(_free_sequences(name, low, high, used, end - index)):
                entry, text, _none = items[index + offset]
                known[text] = seq
                used.add(seq)
                items[index + offset] = (entry, text, seq)
            index = end
        return [(entry, text, t.cast(int, seq)) for entry, text, seq in items]


def _free_sequences(name: str, low: int, high: int | None, used: set[int], count: int) -> list[int]:
    """`count` sequence numbers after `low` and before `high` that no entry holds: one at a time as IOS gives
    them where the gap is open-ended, else spread evenly over the free numbers of the gap."""
    if high is None or count == 1:
        found = []
        for _index in range(count):
            found.append(_free_sequence(name, low if not found else found[-1], high, used | set(found)))
        return found
    spread = spread_sequences(low, high, used, count)
    if spread is None:
        _free_sequence(name, high - 1, high, used)  # raises, naming the list and the resequence command
    return t.cast(t.List[int], spread)


def _free_sequence(name: str, low: int, high: int | None, used: set[int]) -> int:
    """A sequence number after `low` and before `high` that no entry holds, IOS-style (steps of 10)."""
    if high is None:
        seq = (low // 10 + 1) * 10
        while seq in used:
            seq += 10
        return seq
    middle = (low + high) // 2
    for seq in [middle] + list(range(low + 1, high)):
        if low < seq < high and seq not in used:
            return seq
    family, _space, bare = name.rpartition(" ")  # "ipv6 NAME" for an IPv6 list (IPV6_PREFIX)
    raise DiffservError("%saccess-list %s: no free sequence number between %d and %d for a new entry; resequence "
                        "the list first (%s access-list resequence %s 10 10)" % (
                            family + " " if family else "", bare, low, high, family or "ip", bare))


# ---------------------------------------------------------------------- commands
@dataclasses.dataclass(frozen=True)
class StagedCommands:
    """Commands from running through every stage, and the rollback from the last stage back.

    `blocks[i]` are the commands from stage i-1 (running for i = 0) to stage i;
    `rollback_blocks[i]` undo `blocks[-1 - i]`.  `sequences` are the ACL sequence numbers
    the commands rely on (acl -> entry text -> number): what `show access-lists` must print.
    """

    commands: tuple[str, ...]
    rollback: tuple[str, ...]
    blocks: tuple[tuple[str, ...], ...]
    rollback_blocks: tuple[tuple[str, ...], ...]
    sequences: t.Mapping[str, t.Mapping[str, int]]


def load(text: str, driver: DiffservIosDriver) -> "HConfig":
    """A configuration text as hier_config tree, through the given driver."""
    return get_hconfig(driver, text)


def command_lines(delta: "HConfig") -> tuple[str, ...]:
    """A remediation tree as commands to type, in order, with each section's `exit`.

    The exits make the mode of every command explicit: IOS would otherwise try a command in
    the current sub-mode first, and `no ...` lines are valid in several.
    """
    return tuple(line for line in delta.lines(sectional_exiting=True) if line.strip())


def _delta(source: "HConfig", target: "HConfig") -> "HConfig":
    return source.config_to_get_to(target, HConfig(source.driver)).set_order_weight()


# Top-level blocks: a line at column 0 and the indented lines under it.  A numbered list's lines
# (`access-list 106 ...`, wherever they sit) and its section form (`ip access-list extended 106`)
# are one block: the post-load callback merges them into one section and numbers its entries.
_NUMBERED_KEY = re.compile(r"^(?:access-list (\d+) |ip access-list (?:standard|extended) (\d+)$)")


def _block_keys(text: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(each line with the key of its block, key -> the block's whole text)."""
    keyed: list[tuple[str, str]] = []
    blocks: dict[str, list[str]] = {}
    key = ""
    banner_end = None  # the delimiter that closes the banner being read (its body sits at column 0)
    for line in text.split("\n"):
        if banner_end is not None:
            if banner_end in line:
                banner_end = None
        elif line.startswith("banner "):
            words = line.split()
            delimiter = words[2][:2] if len(words) > 2 and words[2].startswith("^") else (words[2][:1] if len(words) > 2 else "")
            # The body ends at the next delimiter, on this line after the opening one or on a later line.
            opened = line.find(delimiter) if delimiter else -1
            banner_end = delimiter if delimiter and delimiter not in line[opened + len(delimiter):] else None
            key = line
        elif line[:1] not in (" ", "\t") or not key:
            numbered = _NUMBERED_KEY.match(line)
            key = "access-list %s" % (numbered.group(1) or numbered.group(2)) if numbered else line
        keyed.append((key, line))
        blocks.setdefault(key, []).append(line)
    return keyed, {name: "\n".join(lines) for name, lines in blocks.items()}


def changed_blocks(texts: t.Sequence[str]) -> list[str]:
    """Each text cut to the top-level blocks that are not the same in all of them.

    hier_config computes a section's commands from that section alone (and numbers a list's entries
    from that list alone), and orders what it emits by weight, then by position: a block that reads
    the same in running and in every stage gives no command.  Leaving those blocks out gives the same
    commands and numbers from a load of the few blocks a plan touches instead of the whole
    configuration (a 50,000-line router took seconds to load, three strategies over).  A banner's
    body, at column 0 up to its closing delimiter, belongs to the banner's block.
    """
    keyed = [_block_keys(text) for text in texts]
    first = keyed[0][1]
    same = {name for name, block in first.items() if all(blocks.get(name) == block for _lines, blocks in keyed[1:])}
    return ["\n".join(line for key, line in lines if key not in same) + "\n" for lines, _blocks in keyed]


def staged_commands(running: str, stages: t.Sequence[str],
                    acl_sequences: t.Mapping[str, t.Mapping[str, int]] | None = None) -> StagedCommands:
    """Commands from `running` through each intended configuration of `stages`, and back.

    Stages let a plan keep every moment safe where one hier_config diff cannot: add the new
    ACL entry, then move the marking, then remove the old entry.  All texts are loaded by one
    driver, running first, so a new entry keeps one sequence number throughout.
    """
    driver = DiffservIosDriver(acl_sequences)
    # Running first: the driver numbers ACL entries as it loads, and the stages keep those numbers.
    configs = [load(text, driver) for text in changed_blocks([running] + list(stages))]
    blocks = tuple(command_lines(_delta(before, after)) for before, after in zip(configs, configs[1:]))
    backwards = configs[::-1]
    rollback_blocks = tuple(command_lines(_delta(before, after)) for before, after in zip(backwards, backwards[1:]))
    return StagedCommands(
        commands=tuple(line for block in blocks for line in block),
        rollback=tuple(line for block in rollback_blocks for line in block),
        blocks=blocks,
        rollback_blocks=rollback_blocks,
        sequences={name: dict(entries) for name, entries in driver.sequences.items() if entries},
    )


def remediation_commands(running: str, intended: str,
                         acl_sequences: t.Mapping[str, t.Mapping[str, int]] | None = None) -> tuple[str, ...]:
    """Commands that take a router from `running` to `intended` (one stage)."""
    return staged_commands(running, [intended], acl_sequences).commands


def rollback_commands(running: str, intended: str,
                      acl_sequences: t.Mapping[str, t.Mapping[str, int]] | None = None) -> tuple[str, ...]:
    """Commands that take a router from `intended` back to `running` (one stage)."""
    return staged_commands(running, [intended], acl_sequences).rollback
