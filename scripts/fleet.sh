#!/usr/bin/env bash
# Rules and releases across the gateway fleet of the infra/ Gateway stack (docs/deploy-aws.md,
# "Rules and releases across the fleet"). Runs on an operator's machine with the AWS CLI v2 and
# credentials allowed to use SSM Run Command on the hosts.
#
#   scripts/fleet.sh rules FILE --asg NAME          every host: validate FILE, replace rules.yaml,
#                                                   systemctl reload (no restart, no dropped request)
#   scripts/fleet.sh rules-rollback --asg NAME      every host: back to its rules.yaml.previous
#   scripts/fleet.sh upgrade S3_URL --sha256 HEX --asg NAME
#                                                   every host: check the executable's SHA-256, then
#                                                   install.sh --upgrade with it (-c releaseBucketName=BUCKET
#                                                   lets the hosts read s3://BUCKET/releases/*)
#   scripts/fleet.sh rollback --asg NAME            every host: install.sh --rollback
#   scripts/fleet.sh refresh --asg NAME             replace every host from the launch template
#                                                   (an instance refresh, as `cdk deploy` starts one)
# Options: --region R, --instances i-1,i-2 (instead of the group's InService hosts),
#          --dry-run (print the AWS CLI calls, run none).
#
# One host at a time, each checked before the next: a host that fails stops the run, and the hosts
# after it keep what they had. The per-host step is scripts/fleet-host.sh (sent with the command).
# In-place changes (rules, upgrade) are not in the launch template: a host the group launches later
# gets what was last deployed, so follow an in-place change with the same change in the CDK app's
# files and `cdk deploy` (or use `refresh` after a deploy).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
command=""
argument=""
asg=""
instances=""
sha256=""
dry_run=no
aws_args=()

die() {
  echo "fleet.sh: $*" >&2
  exit 1
}
say() { echo "fleet.sh: $*"; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --asg) asg=${2:?--asg needs a NAME}; shift 2 ;;
    --region) aws_args+=(--region "${2:?--region needs a REGION}"); shift 2 ;;
    --instances) instances=${2:?--instances needs ids}; shift 2 ;;
    --sha256) sha256=${2:?--sha256 needs the SHA-256 of the executable}; shift 2 ;;
    --dry-run) dry_run=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    rules | rules-rollback | upgrade | rollback | refresh)
      [ -z "$command" ] || die "one command at a time"
      command=$1
      shift
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [ -z "$argument" ] || die "unexpected argument $1"
      argument=$1
      shift
      ;;
  esac
done
[ -n "$command" ] || { usage; exit 2; }
[ -n "$asg" ] || [ -n "$instances" ] || die "--asg NAME is required (the Gateway stack's AutoScalingGroupName output)"
case "$command" in
  rules) [ -f "$argument" ] || die "rules needs a FILE (got '${argument}')" ;;
  upgrade)
    [[ "$argument" == s3://* ]] || die "upgrade needs the s3:// URL of the executable (got '${argument}')"
    [[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || die "upgrade needs --sha256 HEX, the executable's SHA-256 (sha256sum dist/sagemaker-mlflow-proxy): each host refuses any other file"
    ;;
  *) [ -z "$argument" ] || die "$command takes no argument" ;;
esac

aws_cli() {
  if [ "$dry_run" = yes ]; then
    printf '+ aws'
    printf ' %q' "${aws_args[@]+"${aws_args[@]}"}" "$@"
    printf '\n'
  else
    aws "${aws_args[@]+"${aws_args[@]}"}" "$@"
  fi
}

if [ "$command" = refresh ]; then
  # What `cdk deploy` does when the launch template changes (infra/lib/gateway-stack.ts): never
  # below the group's size, each new host healthy at the ALB before the next is replaced.
  aws_cli autoscaling start-instance-refresh --auto-scaling-group-name "$asg" \
    --strategy Rolling --preferences '{"MinHealthyPercentage":100,"MaxHealthyPercentage":200,"InstanceWarmup":90,"SkipMatching":false}'
  say "instance refresh started; follow it with: aws autoscaling describe-instance-refreshes --auto-scaling-group-name $asg"
  exit 0
fi

if [ -z "$instances" ]; then
  [ "$dry_run" = no ] || die "--dry-run needs --instances (it calls nothing to find them)"
  # shellcheck disable=SC2016 # a JMESPath query: the backticks are JMESPath literals, not the shell's
  instances=$(aws "${aws_args[@]+"${aws_args[@]}"}" autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$asg" \
    --query 'AutoScalingGroups[0].Instances[?LifecycleState==`InService`].InstanceId' --output text | tr '\t' ',')
  if [ -z "$instances" ] || [ "$instances" = None ]; then die "no InService instance in $asg"; fi
fi

# The host-side commands: fleet-host.sh and the rules file travel inside the command (base64), so
# the hosts need nothing but the SSM agent. SSM's limit for a command's parameters is 64 KB.
host_script=$(base64 -w0 "$HERE/fleet-host.sh")
case "$command" in
  rules)
    payload=$(base64 -w0 "$argument")
    step="echo $payload | base64 -d > /tmp/fleet-rules.yaml && bash /tmp/fleet-host.sh rules /tmp/fleet-rules.yaml; status=\$?; rm -f /tmp/fleet-rules.yaml; exit \$status"
    ;;
  upgrade) step="bash /tmp/fleet-host.sh upgrade $(printf %q "$argument") $sha256" ;;
  *) step="bash /tmp/fleet-host.sh $command" ;;
esac
commands="echo $host_script | base64 -d > /tmp/fleet-host.sh && $step"
[ "${#commands}" -lt 60000 ] || die "the command is ${#commands} bytes with the rules inside; SSM takes 64 KB at most"
parameters=$(python3 -c 'import json, sys; print(json.dumps({"commands": [sys.argv[1]], "executionTimeout": ["600"]}))' "$commands")

IFS=',' read -r -a ids <<<"$instances"
say "$command on ${#ids[@]} host(s), one at a time: ${ids[*]}"
for id in "${ids[@]}"; do
  say "$id: $command"
  if [ "$dry_run" = yes ]; then
    aws_cli ssm send-command --instance-ids "$id" --document-name AWS-RunShellScript --comment "sagemaker-mlflow-proxy fleet.sh $command" --parameters "$parameters"
    continue
  fi
  command_id=$(aws_cli ssm send-command --instance-ids "$id" --document-name AWS-RunShellScript \
    --comment "sagemaker-mlflow-proxy fleet.sh $command" --parameters "$parameters" --query Command.CommandId --output text)
  # The waiter gives up after 100 s; an upgrade (download, drain, restart, readiness) can take longer.
  for _ in 1 2 3 4 5 6; do
    aws_cli ssm wait command-executed --command-id "$command_id" --instance-id "$id" 2>/dev/null && break
    status=$(aws_cli ssm get-command-invocation --command-id "$command_id" --instance-id "$id" --query Status --output text)
    case "$status" in Pending | InProgress | Delayed) continue ;; *) break ;; esac
  done
  status=$(aws_cli ssm get-command-invocation --command-id "$command_id" --instance-id "$id" --query Status --output text)
  aws_cli ssm get-command-invocation --command-id "$command_id" --instance-id "$id" --query '[StandardOutputContent,StandardErrorContent]' --output text
  [ "$status" = Success ] || die "$id: $command ended $status; the hosts after it were not changed"
done
say "$command done on every host"
