#!/usr/bin/env python3
"""Objects whose owners the lookup tests ask for, made with the real MLflow client straight against
a real server (no gateway): prints one JSON object of ids.

    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python owners_fixture.py
"""
import json
import sys

import mlflow
from mlflow import MlflowClient

major = int(mlflow.__version__.split(".")[0])
client = MlflowClient()
out = {"version": mlflow.__version__}
experiment_id = client.create_experiment("team-a/owners")
out["experiment_id"] = experiment_id
mlflow.set_experiment(experiment_id=experiment_id)
with mlflow.start_run() as run:
    out["run_id"] = run.info.run_id
    out["artifact_uri"] = run.info.artifact_uri


if major >= 3:

    @mlflow.trace
    def traced(x):
        return x + 1

    traced(1)
    out["trace_id"] = mlflow.get_last_active_trace_id()
else:
    # 2.16's fluent tracing fails in this venv's OpenTelemetry; the client API writes the same v2 trace.
    span = client.start_trace("owners", experiment_id=experiment_id)
    client.end_trace(span.request_id)
    out["trace_id"] = span.request_id
client.create_registered_model("team-a-model")
if major >= 3:
    mlflow.genai.register_prompt(name="team-a-prompt", template="Hello {{name}}")
    model = mlflow.initialize_logged_model(name="owners-model", experiment_id=experiment_id)
    out["logged_model_id"] = model.model_id
    from mlflow.genai.datasets import create_dataset

    dataset = create_dataset(name="owners-dataset", experiment_id=[experiment_id])
    out["dataset_id"] = dataset.dataset_id
    lonely = create_dataset(name="lonely-dataset", experiment_id=[])
    out["lonely_dataset_id"] = lonely.dataset_id
print(json.dumps(out))
