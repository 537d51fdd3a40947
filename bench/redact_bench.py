#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, diffserv.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: redaction of everything the collection collects, against a floor.

Redaction runs on every collected line, so it must cost little on plain lines and stay linear on
garbage.  Cases, each timed several times (medians printed):

  - a kube-proxy-like iptables dump of 100,000 rules (bench/gen_iptables.py);
  - a 50,000-line IOS configuration (bench/gen_ios_config.py);
  - the router fixture holding every kind of secret, repeated to 50,000 lines;
  - one 50 MiB line, five ways: an iptables comment of words without a secret's word, the same with
    `password=` at its end, an IOS-looking line of words, the same with ` password X` at its end,
    and a line crafted to hit the prefilter millions of times (`pass pass pass ...`).

The floor is what any line-preserving pass costs: split the text into lines and join them again.
The ratio to it is the figure that travels between machines.

    .venv/bin/python bench/redact_bench.py            # print figures
    .venv/bin/python bench/redact_bench.py --check    # exit 1 if a 50 MiB line takes 2 s or more
"""

from __future__ import annotations

import argparse
import pathlib
import random
import statistics
import string
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "bench"))

import gen_ios_config  # noqa: E402
import gen_iptables  # noqa: E402

from ansible_collections.diffserv.audit.plugins.module_utils.redact import redact  # noqa: E402

MIB = 1 << 20
LINE_LIMIT_SECONDS = 2.0


def floor(text: str) -> str:
    return "\n".join(text.split("\n"))


def median_seconds(func, text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def words(size: int, seed: int = 3) -> str:
    """`size` characters of lowercase words: no secret's keyword among them (checked)."""
    rng = random.Random(seed)
    vocabulary = []
    while len(vocabulary) < 2000:
        word = "".join(rng.choice("bcdfghjlmnqrvwxz") for _ in range(rng.randint(2, 9)))
        vocabulary.append(word)
    chunk = " ".join(rng.choice(vocabulary) for _ in range(200000))
    return (chunk * (size // len(chunk) + 1))[:size]


def cases() -> list[tuple[str, str, int]]:
    router = (ROOT / "tests" / "fixtures" / "secrets" / "router-every-secret.cfg").read_text().split("\n")
    plain = words(50 * MIB)
    return [
        ("iptables dump, 100,000 rules", gen_iptables.generate(100000), 5),
        ("IOS configuration, 50,000 lines", gen_ios_config.generate(), 5),
        ("router with every secret, x%d" % (50000 // len(router)), "\n".join(router * (50000 // len(router))), 5),
        ("50 MiB iptables comment, no secret", '-A INPUT -m comment --comment "%s" -j ACCEPT' % plain, 3),
        ("50 MiB iptables comment, password= at its end",
         '-A INPUT -m comment --comment "%s password=x" -j ACCEPT' % plain, 3),
        ("50 MiB IOS-looking line, no secret", plain, 3),
        ("50 MiB IOS-looking line, password at its end", plain + " password Zq7Long", 3),
        ("50 MiB line of 'pass ' (prefilter hit 10M times)", ("pass " * (10 * MIB + 1))[:50 * MIB], 3),
        ("50 MiB single word", "x" * (50 * MIB), 3),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a 50 MiB line takes %.0f s or more"
                        % LINE_LIMIT_SECONDS)
    args = parser.parse_args(argv)
    assert not any(w in words(MIB) for w in ("pass", "secret", "key", "auth", "priv", "text", "psk"))
    print("%-52s %10s %10s %7s" % ("case", "redact s", "floor s", "ratio"))
    slow = []
    for name, text, repeat in cases():
        ours = median_seconds(redact, text, repeat)
        base = median_seconds(floor, text, repeat)
        print("%-52s %10.3f %10.3f %7.1f" % (name, ours, base, ours / base if base else float("inf")))
        if name.startswith("50 MiB") and ours >= LINE_LIMIT_SECONDS:
            slow.append(name)
    if args.check and slow:
        print("too slow: %s" % ", ".join(slow))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
