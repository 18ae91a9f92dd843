#!/usr/bin/env bash
# Creates the Python virtual environments the end-to-end tests use: one per pinned MLflow version,
# each with the real MLflow server and client, plus botocore for the SageMaker stand-in's
# independent SigV4 verification. Idempotent: a venv whose marker matches its pins is kept.
#
#   MLFLOW_VERSIONS="2.16.2 3.18.0"   which MLflow versions to install (default below)
#   PROXY_VENV_ROOT=.cache/venvs      where the venvs live
set -euo pipefail
cd "$(dirname "$0")/.."

# 2.16.x is a version SageMaker tracking servers offer; 3.17.2 is the newest 3.x release installable here (3.18.0 lacks its mlflow-skinny).
MLFLOW_VERSIONS=${MLFLOW_VERSIONS:-"2.16.2 3.17.2"}
BOTOCORE_VERSION=1.43.11
ROOT=${PROXY_VENV_ROOT:-.cache/venvs}
PYTHON=${PYTHON:-python3}

mkdir -p "$ROOT"
for version in $MLFLOW_VERSIONS; do
  venv="$ROOT/mlflow-$version"
  marker="$venv/.pins"
  want="mlflow==$version botocore==$BOTOCORE_VERSION"
  # MLflow 2.x's server imports sqlalchemy.pool.FallbackAsyncAdaptedQueuePool, gone in SQLAlchemy 2.1.
  case "$version" in 2.*) want="$want sqlalchemy==2.0.58" ;; esac
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
    echo "venv $venv up to date ($want)"
    continue
  fi
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" > "$marker"
  echo "venv $venv ready: $("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
done
