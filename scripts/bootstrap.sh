#!/usr/bin/env bash
# Install everything proxygen needs on a fresh Debian machine (run as root), idempotently:
# Debian packages (nginx, openssl; with --test also goaccess, chromium and git for lint --base), a virtualenv in .venv,
# and proxygen itself in editable mode with the dependency versions of constraints.txt (the tested set). Safe to run
# again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=(nginx openssl)
[ "$want_test" = 1 ] && pkgs+=(goaccess chromium git)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts a system nginx on port 80; proxygen never needs it.
  if [ -x /usr/sbin/nginx ]; then systemctl stop nginx >/dev/null 2>&1 || service nginx stop >/dev/null 2>&1 || true; fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extras=""
[ "$want_test" = 1 ] && extras="[test]"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"  # the tested versions
