#!/usr/bin/env bash
# The per-host step of scripts/fleet.sh, run as root on one gateway host by SSM Run Command (fleet.sh
# sends this file and its arguments). Each command leaves the host serving: on any failure the
# rules or executable in force stay.
#
#   fleet-host.sh rules FILE          validate FILE with the host's environment (`check`), keep the
#                                     current rules as rules.yaml.previous, install FILE in one
#                                     rename, `systemctl reload`, and wait for the gateway's
#                                     "rules reloaded" line with FILE's SHA-256
#   fleet-host.sh rules-rollback      the same with rules.yaml.previous
#   fleet-host.sh upgrade S3_URL SHA256
#                                     fetch the executable, refuse it unless its SHA-256 is SHA256
#                                     (the one `sha256sum` printed where it was built), then the
#                                     kit's `install.sh --upgrade --binary`
#   fleet-host.sh rollback            the kit's `install.sh --rollback`
#
# For tests: --root DIR works on a staging root (as install.sh --root) and calls no systemctl.
set -euo pipefail

NAME=sagemaker-mlflow-proxy
root=""
if [ "${1:-}" = --root ]; then
  root=${2:?--root needs a DIR}
  shift 2
fi
command=${1:-}
shift || true

CONF=$root/etc/$NAME
RULES=$CONF/rules.yaml
BIN=$root/usr/local/bin/$NAME
KIT=$root/opt/$NAME/kit
# Where the Gateway stack's user data sends the service's output (the CloudWatch agent ships it).
LOG_FILE=$root/var/log/$NAME/gateway.log

die() {
  echo "fleet-host: $*" >&2
  exit 1
}
say() { echo "fleet-host: $*"; }

check_with_environment() { # FILE
  # shellcheck source=systemd/environment.example
  (set -a && . "$CONF/environment" && set +a && "$BIN" check --rules "$1") || die "$1 does not validate on this host (problems above); the rules in force are unchanged"
}

# Waits (bounded) for the running gateway to log that it loaded the file with this SHA-256.
wait_reloaded() { # SHA256 SINCE_BYTES
  local _
  for _ in $(seq 1 30); do
    if tail -c "+$(($2 + 1))" "$LOG_FILE" 2>/dev/null | grep -F '"rules reloaded"' | grep -qF "\"rulesSha256\":\"$1\""; then
      say "the gateway serves the new rules (sha256 $1)"
      return 0
    fi
    sleep 1
  done
  die "no \"rules reloaded\" line with sha256 $1 in $LOG_FILE within 30 s: see the log for \"rules reload refused\""
}

replace_rules() { # NEW_FILE (consumed)
  local new=$1 sha since
  check_with_environment "$new"
  sha=$(sha256sum "$new" | cut -d' ' -f1)
  if cmp -s "$new" "$RULES"; then
    rm -f "$new"
    say "$RULES is already this file (sha256 $sha)"
    return 0
  fi
  cp -p "$RULES" "$RULES.previous"
  chmod 0644 "$new"
  since=$(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0)
  mv -f "$new" "$RULES"
  say "installed $RULES (sha256 $sha; the previous one is $RULES.previous)"
  if [ -z "$root" ]; then
    # ExecReload runs `check` again, then SIGHUP; the gateway validates once more and swaps.
    systemctl reload "$NAME.service"
    wait_reloaded "$sha" "$since"
  fi
}

case "$command" in
  rules)
    source=${1:?rules needs a FILE}
    [ -f "$source" ] || die "no file $source"
    tmp=$(mktemp "$CONF/.rules.yaml.XXXXXX")
    cp "$source" "$tmp"
    replace_rules "$tmp"
    ;;
  rules-rollback)
    [ -f "$RULES.previous" ] || die "no $RULES.previous to go back to"
    tmp=$(mktemp "$CONF/.rules.yaml.XXXXXX")
    cp "$RULES.previous" "$tmp"
    replace_rules "$tmp"
    ;;
  upgrade)
    url=${1:?upgrade needs the S3 URL of the executable}
    expected=${2:-}
    # Nothing fetched is run before it is checked (issue 20, item 3): a substituted executable in
    # the release bucket is refused, and the release in force stays.
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "upgrade needs the executable's SHA-256 (64 hex digits) after the URL; the release in force is unchanged"
    binary=$(mktemp)
    aws s3 cp --only-show-errors "$url" "$binary" || { rm -f "$binary"; die "could not download $url; the release in force is unchanged"; }
    actual=$(sha256sum "$binary" | cut -d' ' -f1)
    if [ "$actual" != "$expected" ]; then
      rm -f "$binary"
      die "$url has SHA-256 $actual, not $expected: refusing to install it; the release in force is unchanged"
    fi
    say "$url: SHA-256 $actual, as given"
    chmod 0755 "$binary"
    args=(--upgrade --binary "$binary")
    if [ -n "$root" ]; then args+=(--root "$root" --no-start); fi
    "$KIT/install.sh" "${args[@]}"
    rm -f "$binary"
    ;;
  rollback)
    args=(--rollback)
    if [ -n "$root" ]; then args+=(--root "$root" --no-start); fi
    "$KIT/install.sh" "${args[@]}"
    ;;
  *) die "usage: fleet-host.sh [--root DIR] rules FILE | rules-rollback | upgrade S3_URL SHA256 | rollback" ;;
esac
