#!/usr/bin/env bash
# ansible-test sanity for the collection, on Python 3.11, with no network but the package registries.
#   bash scripts/sanity.sh [--checkout] [extra ansible-test sanity options, e.g. --test pep8]
# What is tested is the collection as it ships: the files `ansible-galaxy collection build` puts in the
# tarball (galaxy.yml's build_ignore leaves out tests, benchmarks, the lab, scripts), which is also what
# Galaxy's importer runs ansible-test sanity on, plus tests/sanity/ (the ignore file). --checkout tests
# every file of the checkout instead (tracked, and untracked but not ignored by git).
# Two work-arounds make it run here:
#   - `--venv` bootstraps pip in each test's virtual environment with a get-pip script that ansible-test
#     downloads from a host outside the registries. A stand-in is saved where ansible-test caches that
#     script (~/.ansible/test/cache/get_pip_<version>.py); it runs `python -m ensurepip` and then
#     `python -m pip install` of what it is asked, both as subprocesses (run in-process, ensurepip keeps
#     the next pip from reading the machine's pip configuration, and its certificate checks fail).
#   - ansible-test rejects a collection reached through a symlink (.collections/.../audit is one), so it
#     runs from a real directory tree under a temporary .../ansible_collections/diffserv/audit.
# The per-test virtual environments stay cached under ~/.ansible/test/venv: about 2.5 minutes cold,
# 40 seconds warm (2 cores; pylint takes most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON="$ROOT/.venv/bin/python"
ANSIBLE_TEST="$ROOT/.venv/bin/ansible-test"

# The pip version ansible-test bootstraps, hence the cache file name it looks for.
pip_version=$("$PYTHON" - <<'PY'
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cat >"$cache.tmp" <<'PY'
"""Stand-in for get-pip.py (written by diffserv.audit scripts/sanity.sh): no download.

Installs the interpreter's bundled pip with ensurepip, then lets that pip install what ansible-test
asked for (pip==<version>) from the configured package index. Both run as subprocesses, so the second
pip reads the machine's pip configuration (index, certificates) as any pip would.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel", "--no-pip"}
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args]).returncode)
PY
mv "$cache.tmp" "$cache"

scope=artifact
if [ "${1:-}" = --checkout ]; then
    scope=checkout
    shift
fi

# A real directory tree ansible-test accepts: <tmp>/ansible_collections/diffserv/audit.
work=$(mktemp -d "${TMPDIR:-/tmp}/diffserv-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/diffserv/audit"
mkdir -p "$dest"
if [ "$scope" = artifact ]; then
    "$ROOT/.venv/bin/ansible-galaxy" collection build "$ROOT" --output-path "$work/build" >/dev/null
    tar -xzf "$work"/build/*.tar.gz -C "$dest"
    if [ -d tests/sanity ]; then
        mkdir -p "$dest/tests"
        cp -R tests/sanity "$dest/tests/"
    fi
else
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
        # A file deleted in the work tree but still in the index is skipped, as a commit would drop it.
        if [ -e "$f" ] || [ -L "$f" ]; then
            cp -P --parents -- "$f" "$dest/"
        fi
    done
fi

cd "$dest"
echo "sanity: $scope scope, $(find . -type f | wc -l) files in $dest"
"$ANSIBLE_TEST" sanity --venv --python 3.11 --color no "$@"
