#!/usr/bin/env bash
# Tools the install tests need besides Node and Python: shellcheck (install.sh must be clean) and
# systemd-analyze (the unit must verify and rate 2.0 or lower), both from Debian's packages.
# Idempotent; installs only what is missing, and only as root with apt (CI, the dev hosts).
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup-tools: installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup-tools: missing ${missing[*]}: install the Debian packages ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
