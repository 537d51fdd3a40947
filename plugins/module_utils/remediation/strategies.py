# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strategy registry: name -> Strategy, in the order plans are made and shown.

A strategy is one module exposing `STRATEGY = Strategy(name, title, does, plan, risks)`
(model.Strategy); adding one is that module plus one line below.  `Options` lives here because
its default is "every registered strategy".

>>> STRATEGIES
('remove_policy', 'change_dscp', 'remark_boundary', 'exempt_flows')
>>> Options().strategies == STRATEGIES
True

Standard library only; no `import ansible`.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import dataclasses

from ansible_collections.diffserv.audit.plugins.module_utils.remediation import (
    change_dscp, exempt_flows, remark_boundary, remove_policy,
)
from ansible_collections.diffserv.audit.plugins.module_utils.remediation.model import PlanError, Strategy

REGISTRY: dict[str, Strategy] = {
    remove_policy.STRATEGY.name: remove_policy.STRATEGY,
    change_dscp.STRATEGY.name: change_dscp.STRATEGY,
    remark_boundary.STRATEGY.name: remark_boundary.STRATEGY,
    exempt_flows.STRATEGY.name: exempt_flows.STRATEGY,
}
STRATEGIES = tuple(REGISTRY)
TITLES = {name: strategy.title for name, strategy in REGISTRY.items()}


@dataclasses.dataclass(frozen=True)
class Options:
    """What the user may choose: an explicit codepoint (`diffserv_dscp`), strategies, names."""

    dscp: int | None = None
    strategies: tuple[str, ...] = STRATEGIES
    boundary_policy: str = "diffserv-boundary-in"
    backend: str = "auto"
    tos_semantics: str = "auto"


def strategy(name: str) -> Strategy:
    """The registered strategy of that name; PlanError names the known ones otherwise."""
    found = REGISTRY.get(name)
    if found is None:
        raise PlanError("unknown strategy %r (one of %s)" % (name, ", ".join(STRATEGIES)))
    return found
