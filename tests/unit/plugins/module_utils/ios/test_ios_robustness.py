# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whatever the text, the parser answers with a model or a ParseError, and the model evaluates."""

from __future__ import annotations

import json

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from ansible_collections.diffserv.audit.plugins.module_utils.errors import ParseError
from ansible_collections.diffserv.audit.plugins.module_utils.ios import fate_tables, parse_ios, unused

WORDS = [
    "interface", "Gi0/0", "Gi0/1", "ip", "access-list", "extended", "standard", "EDGE", "101", "10", "700",
    "permit", "deny", "tcp", "udp", "icmp", "any", "host", "10.0.0.1", "0.0.0.255", "eq", "range", "www", "25",
    "dscp", "precedence", "tos", "ef", "1", "max-reliability", "critical", "log", "established",
    "class-map", "match-any", "match-all", "C", "match", "not", "access-group", "name", "protocol", "http",
    "policy-map", "P", "class", "class-default", "set", "drop", "police", "8000", "conform-action",
    "exceed-action", "violate-action", "transmit", "set-dscp-transmit", "service-policy", "input", "output",
    "route-map", "R", "address", "Null0", "next-hop", "192.0.2.1", "default", "policy", "in", "out",
    "shutdown", "description", "banner", "motd", "#", "!", "exit", "end", "no", "local", "bandwidth",
    "priority", "shape", "average", "frobnicate", "^C",
]


@st.composite
def config_text(draw):
    lines = []
    for _ in range(draw(st.integers(0, 40))):
        indent = " " * draw(st.sampled_from([0, 0, 1, 2, 3]))
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
        lines.append(indent + " ".join(words))
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_text())
def test_any_text_gives_a_model_or_a_parse_error(text):
    try:
        config = parse_ios(text, "fuzz.cfg", require_end=False)
    except ParseError as error:
        assert error.file == "fuzz.cfg"
        return
    for diagnostic in config.diagnostics:
        assert diagnostic.file == "fuzz.cfg" and diagnostic.line >= 1
    tables = fate_tables(config)
    json.dumps([t.as_dict() for t in tables])
    json.dumps([u.as_dict() for u in unused(config)])
