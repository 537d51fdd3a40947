# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The examples in the IOS modules' docstrings run and say what they show."""

from __future__ import annotations

import doctest

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils.ios import acl, fates, links, model, parse, trace


@pytest.mark.parametrize("module", [acl, fates, links, model, parse, trace], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
