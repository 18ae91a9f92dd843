#!/usr/bin/env bash
# The infra/ CDK app's own dependencies (infra/package-lock.json: aws-cdk-lib, constructs, cdk-nag,
# the aws-cdk CLI), kept apart from the gateway's. Idempotent: `npm ci` runs only when
# infra/node_modules is missing or was installed from another package-lock.json (the marker holds
# that lock file's SHA-256, written last, so an interrupted install is redone).
set -euo pipefail
cd "$(dirname "$0")/../infra"

marker=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
  echo "infra/node_modules up to date"
  exit 0
fi
npm ci --no-audit --no-fund
echo "$want" >"$marker"
echo "infra/node_modules installed"
