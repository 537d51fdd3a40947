# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the remediation tests."""

from __future__ import annotations

import pytest

from ansible_collections.diffserv.audit.plugins.module_utils import forking


@pytest.fixture
def forks(monkeypatch):
    """The children forked during the test (their pids), counted where forking.py forks them."""
    found = []
    real_fork = forking.os.fork

    def counting_fork():
        pid = real_fork()
        if pid:
            found.append(pid)
        return pid

    monkeypatch.setattr(forking.os, "fork", counting_fork)
    return found
