# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's synthetic configuration has the size it claims, and reads cleanly."""

from __future__ import annotations

import importlib.util
import pathlib

from ansible_collections.diffserv.audit.plugins.module_utils.ios import parse_ios

GENERATOR = pathlib.Path(__file__).resolve().parents[5] / "bench" / "gen_ios_config.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_ios_config", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_configuration_has_the_promised_shape():
    text = load_generator().generate(50000)
    config = parse_ios(text, "bench.cfg")
    assert len(text.splitlines()) == 50000
    assert (len(config.interfaces), len(config.class_maps), len(config.policy_maps), len(config.route_maps)) == (
        300, 200, 100, 20)
    assert sum(len(acl.entries) for acl in config.acls.values()) == 10000
    assert config.diagnostics == ()
