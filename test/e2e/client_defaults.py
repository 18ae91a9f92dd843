"""Environment defaults for the stock MLflow client in the end-to-end scripts (imported first).

Set only where the caller did not set them: fail fast instead of MLflow's 7 retries with backoff,
a request timeout, no usage telemetry (MLflow 3.x), no git probing, no warnings on stdout.
"""

import os
import warnings


def apply(timeout_seconds):
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(timeout_seconds))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    warnings.filterwarnings("ignore")
