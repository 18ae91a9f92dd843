#!/usr/bin/env bash
# Tools the tests need besides Node and Python, all from Debian's packages: shellcheck (install.sh
# must be clean), systemd-analyze (the unit must verify and rate 2.0 or lower), chromium (the UI
# tests drive it headless with playwright-core), redis-server (the shared rate-limit store's tests;
# valkey-server does as well where Debian has it, 13 on) and haproxy (the local fleet's load balancer,
# test/e2e/fleet.test.ts).
# Idempotent; installs only what is missing, and only as root with apt (CI, the dev hosts).
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v valkey-server >/dev/null 2>&1 || command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-tools: installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup-tools: missing ${missing[*]}: install the Debian packages ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
