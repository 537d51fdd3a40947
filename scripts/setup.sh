#!/usr/bin/env bash
# Set up a checkout of diffserv.audit on a fresh machine:
#   - system packages the tests use (iptables for the kernel-differential test, openssh-server and
#     sudo for the SSH lab, tcpdump for captures, nftables for the nft kernel tests, chromium for the
#     HTML report's browser test), installed with apt-get when running as root;
#   - .venv/ with the pinned controller dependencies and the test tools;
#   - .collections/ansible_collections/diffserv/audit -> the checkout, so the FQCNs resolve
#     (ansible.cfg points collections_path there).
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need_apt=()
command -v iptables-nft-restore >/dev/null 2>&1 || need_apt+=(iptables)
command -v iptables-legacy-restore >/dev/null 2>&1 || need_apt+=(iptables)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v sudo >/dev/null 2>&1 || need_apt+=(sudo)
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing system packages: ${need_apt[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "setup: not root (or no apt-get): the kernel and lab tests will be skipped; missing: ${need_apt[*]}" >&2
    fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -m pip install -q -r requirements-test.txt --disable-pip-version-check 2>.venv/pip.log; then
    cat .venv/pip.log >&2
    exit 1
fi

mkdir -p .collections/ansible_collections/diffserv
ln -sfn ../../.. .collections/ansible_collections/diffserv/audit
.venv/bin/python - <<'PY'
import sys
sys.path.insert(0, ".collections")
import ansible_collections.diffserv.audit.plugins.module_utils.dsfield  # noqa: F401
PY
echo "setup: ready ($ROOT)"
