#!/usr/bin/env bash
# Creates the Python virtual environments the end-to-end tests use: one per pinned MLflow version,
# each with the real MLflow server and client, plus botocore for the SageMaker stand-in's
# independent SigV4 verification and boto3 for the server's S3 artifact root (as SageMaker's is);
# one venv with moto in server mode, the real S3-compatible server the artifact tests use; and one
# with cfn-lint, for the CloudFormation templates of infra/.
# Idempotent: a venv whose marker (.pins) matches its pins is kept; any other (an older cache, a
# changed pin, a half-built venv without a marker) is rebuilt from scratch.
#
#   MLFLOW_VERSIONS="2.16.2 3.18.0"   which MLflow versions to install (default below)
#   PROXY_VENV_ROOT=.cache/venvs      where the venvs live
set -euo pipefail
cd "$(dirname "$0")/.."

# 2.16.x is a version SageMaker tracking servers offer; 3.17.2 is the newest 3.x release installable here (3.18.0 lacks its mlflow-skinny).
MLFLOW_VERSIONS=${MLFLOW_VERSIONS:-"2.16.2 3.17.2"}
BOTOCORE_VERSION=1.43.11
# boto3 releases share botocore's version number; the pair must match.
BOTO3_VERSION=1.43.11
MOTO_VERSION=5.2.5
# cfn-lint checks every template the infra/ CDK app synthesizes (test/infra).
CFN_LINT_VERSION=1.58.0
ROOT=${PROXY_VENV_ROOT:-.cache/venvs}
PYTHON=${PYTHON:-python3}

# ensure_venv DIR "PINS": (re)builds DIR with exactly PINS unless its marker already says so.
ensure_venv() {
  local venv=$1 want=$2 marker="$1/.pins"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
    echo "venv $venv up to date ($want)"
    return
  fi
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  # Written last: an interrupted install leaves no marker and is rebuilt next time.
  echo "$want" > "$marker"
  echo "venv $venv ready ($want)"
}

mkdir -p "$ROOT"
for version in $MLFLOW_VERSIONS; do
  want="mlflow==$version botocore==$BOTOCORE_VERSION boto3==$BOTO3_VERSION"
  # MLflow 2.x's server imports sqlalchemy.pool.FallbackAsyncAdaptedQueuePool, gone in SQLAlchemy 2.1.
  case "$version" in 2.*) want="$want sqlalchemy==2.0.58" ;; esac
  ensure_venv "$ROOT/mlflow-$version" "$want"
done
# moto's server mode (`moto_server`) needs its [server] extra (flask, flask-cors).
ensure_venv "$ROOT/moto" "moto[server]==$MOTO_VERSION boto3==$BOTO3_VERSION botocore==$BOTOCORE_VERSION"
ensure_venv "$ROOT/cfn-lint" "cfn-lint==$CFN_LINT_VERSION"
