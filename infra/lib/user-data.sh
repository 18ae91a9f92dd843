#!/bin/bash
# User data of the gateway hosts (Amazon Linux 2023), run once as root at first boot. The Gateway
# stack puts these assignments in front of this file:
#   KIT_URL      s3:// URL of the release kit, a zip (infra/lib/release-kit.ts: the executable built
#                by scripts/build.sh, install.sh, the rules file as rules.yaml, systemd/)
#   KIT_SHA256   the zip's SHA-256, computed when the stack was synthesized: any other zip is refused
#   LOG_GROUP    the CloudWatch Logs group for the gateway's JSON lines and this script's own lines
#   GATEWAY_ENV  the environment file's settings, one KEY=VALUE a line (install.sh --env)
#   VALKEY_SECRET_ARN  the Secrets Manager secret holding the shared rate-limit store's password
#                (-c sharedLimits=true), or empty
#   SIGNAL_STACK, SIGNAL_RESOURCE, SIGNAL_REGION  where cfn-signal reports the outcome (the Auto
#                Scaling group's creation policy waits for it on the stack's first deploy)
# Steps: OS packages; the CloudWatch agent, first, shipping this script's log and the gateway's, so
# a host that fails later leaves its reason in CloudWatch Logs (issue 20, item 5); the kit, checked
# against KIT_SHA256 before it is unpacked (item 3) and kept in /opt/sagemaker-mlflow-proxy/kit
# (install.sh --rollback and re-runs need it); stdout to a file the agent ships (a drop-in: the unit
# is unchanged); logrotate; the store's password as a systemd credential (a drop-in); install.sh
# (validates the rules, starts the service, waits for /-/ready); cfn-signal. Any failure ends with
# one line "user-data: BOOT_FAILED ..." (the stack counts them: a metric filter, an alarm that stops
# an instance refresh) and a failure signal.
#
# For tests and image builds: USERDATA_ROOT=DIR lays everything out under DIR instead of / and
# starts nothing (install.sh --root DIR --no-start); USERDATA_KIT_DIR=DIR takes an unpacked kit
# instead of downloading KIT_URL (the download and its check run with whatever `aws` is on PATH
# otherwise); neither installs packages; cfn-signal runs only when USERDATA_CFN_SIGNAL names one;
# USERDATA_RETRY_SECONDS shortens the waits between retries.
set -euo pipefail

: "${KIT_URL:?KIT_URL is not set}"
: "${KIT_SHA256:?KIT_SHA256 is not set}"
: "${LOG_GROUP:?LOG_GROUP is not set}"
: "${GATEWAY_ENV:?GATEWAY_ENV is not set}"
VALKEY_SECRET_ARN=${VALKEY_SECRET_ARN:-}
root=${USERDATA_ROOT:-}
NAME=sagemaker-mlflow-proxy
KIT=$root/opt/$NAME/kit
LOG_DIR=/var/log/$NAME
LOG_FILE=$LOG_DIR/gateway.log
BOOT_LOG=$LOG_DIR/user-data.log
AGENT_CONFIG=$root/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
CREDENTIALS=/etc/$NAME/credentials
if [ -n "$root" ]; then CFN_SIGNAL=${USERDATA_CFN_SIGNAL:-}; else CFN_SIGNAL=/opt/aws/bin/cfn-signal; fi

# Every line of this script, from here on, also goes to BOOT_LOG (the agent ships it as the stream
# INSTANCE_ID/user-data; cloud-init keeps its own copy in /var/log/cloud-init-output.log).
mkdir -p "$root$LOG_DIR"
chmod 0750 "$root$LOG_DIR"
exec > >(tee -a "$root$BOOT_LOG") 2>&1

say() { echo "user-data: $*"; }

step="starting"
signal() { # EXIT_CODE
  [ -n "$CFN_SIGNAL" ] || return 0
  # Outside the stack's first deploy nothing waits for the signal and CloudFormation refuses it.
  timeout 60 "$CFN_SIGNAL" -e "$1" --stack "${SIGNAL_STACK:-}" --resource "${SIGNAL_RESOURCE:-}" --region "${SIGNAL_REGION:-}" \
    || say "cfn-signal was not accepted (expected outside the stack's first deploy)"
}
finish() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    say "BOOT_FAILED while $step (exit $status): this host will not serve; the lines above say why"
    signal 1
  fi
}
trap finish EXIT

# retry N COMMAND...: the package repositories and S3 can be briefly unreachable at first boot
# (network interfaces, endpoints' DNS still settling). 5 s, 10 s, ... between attempts.
retry_step=${USERDATA_RETRY_SECONDS:-5}
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then return 1; fi
    say "attempt $n of $* failed; retrying in $((n * retry_step)) s"
    sleep $((n * retry_step))
    n=$((n + 1))
  done
}

if [ -z "$root" ]; then
  step="installing packages"
  retry 5 dnf install -y -q amazon-cloudwatch-agent aws-cfn-bootstrap unzip diffutils logrotate
fi

# The CloudWatch agent first, so every later line (and the gateway's) reaches the log group. It
# also publishes host memory for the stack's dashboard (infra/lib/dashboard.ts): EC2 reports CPU by
# itself, memory only through the agent; one series per Auto Scaling group (the dashboard's dimension,
# which the agent reads from the instance's tags with ec2:DescribeTags: dashboard.ts grants it).
step="starting the CloudWatch agent"
install -D -m 0644 /dev/stdin "$AGENT_CONFIG" <<EOF
{
  "agent": { "run_as_user": "root" },
  "metrics": {
    "namespace": "CWAgent",
    "append_dimensions": { "AutoScalingGroupName": "\${aws:AutoScalingGroupName}" },
    "aggregation_dimensions": [["AutoScalingGroupName"]],
    "metrics_collected": { "mem": { "measurement": ["mem_used_percent"], "metrics_collection_interval": 60 } }
  },
  "logs": {
    "logs_collected": {
      "files": {
        "collect_list": [
          { "file_path": "$LOG_FILE", "log_group_name": "$LOG_GROUP", "log_stream_name": "{instance_id}", "timezone": "UTC" },
          { "file_path": "$BOOT_LOG", "log_group_name": "$LOG_GROUP", "log_stream_name": "{instance_id}/user-data", "timezone": "UTC" }
        ]
      }
    }
  }
}
EOF
if [ -z "$root" ]; then
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$AGENT_CONFIG"
fi

# The kit: downloaded, checked against the SHA-256 the stack was synthesized with, then unpacked.
rm -rf "$KIT"
mkdir -p "$KIT"
if [ -n "${USERDATA_KIT_DIR:-}" ]; then
  cp -R "$USERDATA_KIT_DIR/." "$KIT/"
else
  step="downloading the release kit $KIT_URL"
  zip=$(mktemp)
  if ! retry 5 aws s3 cp --only-show-errors "$KIT_URL" "$zip"; then
    say "could not download the release kit $KIT_URL (5 attempts; the host role may read only this object)"
    exit 1
  fi
  step="checking the release kit"
  actual=$(sha256sum "$zip" | cut -d' ' -f1)
  if [ "$actual" != "$KIT_SHA256" ]; then
    say "the release kit's SHA-256 is $actual, not $KIT_SHA256 (the stack's): refusing to install it"
    rm -f "$zip"
    exit 1
  fi
  say "release kit $KIT_URL: SHA-256 $actual, as the stack expects"
  unzip -q -o "$zip" -d "$KIT"
  rm -f "$zip"
fi
chmod 0755 "$KIT/install.sh" "$KIT/$NAME"
say "release kit in $KIT: $("$KIT/$NAME" version)"

# The service's standard output (one JSON line per request, plus operational lines) goes to a file
# for the CloudWatch agent, which reads files, not the journal. systemd opens the file as root
# before it starts the sandboxed DynamicUser process, so the unit's hardening stays as it is.
step="configuring the service's log"
install -D -m 0644 /dev/stdin "$root/etc/systemd/system/$NAME.service.d/10-cloudwatch-log.conf" <<EOF
# Written by the Gateway stack's user data: stdout to $LOG_FILE (shipped to CloudWatch Logs
# group $LOG_GROUP by the CloudWatch agent); errors stay in the journal.
[Service]
StandardOutput=append:$LOG_FILE
StandardError=journal
EOF
install -D -m 0644 /dev/stdin "$root/etc/logrotate.d/$NAME" <<EOF
# The agent has shipped the lines within seconds; keep a week on the host. copytruncate: systemd
# holds the file open in append mode, so truncating in place is safe.
$LOG_FILE {
  daily
  rotate 7
  maxsize 200M
  compress
  delaycompress
  missingok
  notifempty
  copytruncate
}
EOF

# The shared rate-limit store's password (README, "How the token reaches the host"): fetched into a
# root-only file, never printed; the unit runs as a dynamic user that cannot read it, so systemd
# hands it a private copy as the credential `valkey` in $CREDENTIALS_DIRECTORY (LoadCredential=),
# where the rules' limits.store.passwordFile reads it. Before install.sh, which starts the service.
if [ -n "$VALKEY_SECRET_ARN" ]; then
  step="fetching the rate-limit store's password"
  # The secret's region is in its ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME).
  secret_region=$(cut -d: -f4 <<<"$VALKEY_SECRET_ARN")
  install -d -m 0700 "$root$CREDENTIALS"
  fetch_password() {
    (umask 077 && aws secretsmanager get-secret-value --region "$secret_region" --secret-id "$VALKEY_SECRET_ARN" \
      --query SecretString --output text >"$root$CREDENTIALS/valkey.new")
  }
  retry 5 fetch_password
  if [ ! -s "$root$CREDENTIALS/valkey.new" ]; then
    say "the secret $VALKEY_SECRET_ARN is empty"
    exit 1
  fi
  chmod 0600 "$root$CREDENTIALS/valkey.new"
  mv -f "$root$CREDENTIALS/valkey.new" "$root$CREDENTIALS/valkey"
  install -D -m 0644 /dev/stdin "$root/etc/systemd/system/$NAME.service.d/20-valkey-credential.conf" <<EOF
# Written by the Gateway stack's user data: the shared rate-limit store's password (Secrets Manager
# $VALKEY_SECRET_ARN) as the credential valkey, read by limits.store.passwordFile.
[Service]
LoadCredential=valkey:$CREDENTIALS/valkey
EOF
  say "the rate-limit store's password is in $CREDENTIALS/valkey (LoadCredential=valkey)"
fi

# install.sh: executable, rules, environment file, unit; `check` with that environment before
# anything starts; then enable, start and wait for readiness (not under USERDATA_ROOT).
step="installing the gateway (install.sh)"
env_args=()
while IFS= read -r setting; do
  [ -n "$setting" ] && env_args+=(--env "$setting")
done <<<"$GATEWAY_ENV"
install_args=(--binary "$KIT/$NAME" "${env_args[@]}")
if [ -n "$root" ]; then install_args+=(--root "$root" --no-start); fi
"$KIT/install.sh" "${install_args[@]}"

step="done"
signal 0
say "done"
