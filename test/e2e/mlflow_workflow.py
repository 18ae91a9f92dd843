#!/usr/bin/env python3
"""A realistic MLflow workflow driven by the real MLflow Python client, for end-to-end tests.

Run with the python of one of the test venvs (MLflow 2.16.x and 3.x are both supported):

    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT MLFLOW_TRACKING_TOKEN=<key> \
        .cache/venvs/mlflow-<version>/bin/python test/e2e/mlflow_workflow.py [SUFFIX]

SUFFIX (optional, default random) is appended to every experiment / model name so that runs against
a shared backend do not collide. No AWS variables are needed or wanted: the client only talks plain
MLflow REST (Bearer token) to the gateway, which does the SigV4 signing.

Only public `mlflow` / `mlflow.MlflowClient` APIs are used, and nothing touches an artifact store
(the model version's `source` is just a URI under the run's artifact root).

stdout carries exactly one JSON object (the observed values); everything MLflow prints goes to
stderr. Exit status 0 on success; on failure the JSON object has an "error" key, the traceback goes
to stderr and the exit status is 1.

Environment knobs (defaults set here only when the caller did not set them):
    MLFLOW_HTTP_REQUEST_MAX_RETRIES=0   fail fast instead of MLflow's 7 retries with backoff
    MLFLOW_HTTP_REQUEST_TIMEOUT=60
    MLFLOW_DISABLE_TELEMETRY=true, DO_NOT_TRACK=true   (MLflow 3.x usage telemetry)
"""

import logging
import sys
import time
import uuid

import client_defaults
from workflow_report import check, report

client_defaults.apply(timeout_seconds=60)


def run_workflow(suffix, result):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    result["mlflow_version"] = mlflow.__version__
    result["tracking_uri"] = mlflow.get_tracking_uri()
    check(
        str(result["tracking_uri"]).startswith("http"),
        "MLFLOW_TRACKING_URI must be an http(s) URI, got %r" % result["tracking_uri"],
    )
    client = MlflowClient()

    # --- experiments -------------------------------------------------------------------------
    experiment_name = "team a / churn model %s" % suffix
    result["experiment_name"] = experiment_name
    experiment_id = client.create_experiment(
        experiment_name, tags={"team": "team a", "purpose": "gateway e2e"}
    )
    result["experiment_id"] = experiment_id

    found = client.get_experiment_by_name(experiment_name)
    check(found is not None, "get_experiment_by_name did not find the new experiment")
    result["experiment_name_roundtrip"] = found.name
    result["experiment_id_roundtrip"] = found.experiment_id
    result["experiment_tags"] = {k: v for k, v in found.tags.items() if not k.startswith("mlflow.")}
    check(found.experiment_id == experiment_id, "get_experiment_by_name returned another id")
    check(found.name == experiment_name, "experiment name did not round-trip: %r" % found.name)

    # A name that does not exist: the server answers 404 RESOURCE_DOES_NOT_EXIST and the client
    # maps exactly that error code to None. Anything else (a rewritten body, another status) raises.
    # A name in the workflow's own space, so a scoped policy (the cross-team suite's) lets MLflow say it does not exist.
    missing = client.get_experiment_by_name("team a / churn model missing %s" % suffix)
    result["missing_experiment_is_none"] = missing is None
    check(missing is None, "get_experiment_by_name for a missing name returned %r" % (missing,))

    searched = client.search_experiments(filter_string="name = '%s'" % experiment_name)
    result["search_experiments_ids"] = [e.experiment_id for e in searched]
    result["search_experiments_names"] = [e.name for e in searched]
    check(result["search_experiments_ids"] == [experiment_id], "search_experiments mismatch")

    searched_like = client.search_experiments(filter_string="name LIKE '%%churn model %s'" % suffix)
    result["search_experiments_like_ids"] = [e.experiment_id for e in searched_like]
    check(experiment_id in result["search_experiments_like_ids"], "LIKE search missed it")

    # --- a run ---------------------------------------------------------------------------------
    rmse_values = [0.9, 0.7, 0.45]
    with mlflow.start_run(experiment_id=experiment_id, run_name="train %s" % suffix) as active:
        run_id = active.info.run_id
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"l1_ratio": 0.1, "model type": "elastic net"})
        for step, value in enumerate(rmse_values):
            mlflow.log_metric("rmse", value, step=step)
        now_ms = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[
                Metric("mae", 0.31, now_ms, 0),
                Metric("mae", 0.27, now_ms + 1, 1),
                Metric("r2", 0.83, now_ms, 0),
            ],
            params=[Param("max_iter", "1000"), Param("dataset", "churn/2024 Q1 & Q2")],
            tags=[RunTag("stage", "dev"), RunTag("owner", "team a")],
        )
        mlflow.set_tag("note", "unicode ok: é ✓ / + & = ?")
        artifact_uri = active.info.artifact_uri
    result["run_id"] = run_id
    result["artifact_uri"] = artifact_uri

    run = client.get_run(run_id)
    result["run_status"] = run.info.status
    result["params"] = dict(sorted(run.data.params.items()))
    result["metrics"] = dict(sorted(run.data.metrics.items()))
    result["tags"] = {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("mlflow.")}
    check(run.info.status == "FINISHED", "run status is %s" % run.info.status)
    check(result["params"].get("alpha") == "0.5", "param alpha did not round-trip")
    check(result["params"].get("dataset") == "churn/2024 Q1 & Q2", "param dataset mangled")
    check(result["tags"].get("note") == "unicode ok: é ✓ / + & = ?", "tag note mangled")
    check(result["tags"].get("stage") == "dev", "log_batch tag missing")

    filter_string = "params.alpha = '0.5' and metrics.rmse < 1"
    found_runs = client.search_runs([experiment_id], filter_string=filter_string)
    result["search_runs_filter"] = filter_string
    result["search_runs_ids"] = [r.info.run_id for r in found_runs]
    check(result["search_runs_ids"] == [run_id], "search_runs did not find exactly the run")
    none_runs = client.search_runs([experiment_id], filter_string="metrics.rmse > 1")
    result["search_runs_empty_ids"] = [r.info.run_id for r in none_runs]
    check(result["search_runs_empty_ids"] == [], "search_runs with a false filter found runs")

    history = client.get_metric_history(run_id, "rmse")
    history = sorted(history, key=lambda m: m.step)
    result["metric_history"] = {
        "key": "rmse",
        "values": [m.value for m in history],
        "steps": [m.step for m in history],
    }
    check(result["metric_history"]["values"] == rmse_values, "rmse history mismatch")
    check(result["metric_history"]["steps"] == [0, 1, 2], "rmse steps mismatch")
    mae = sorted(client.get_metric_history(run_id, "mae"), key=lambda m: m.step)
    result["metric_history_mae"] = {"values": [m.value for m in mae], "steps": [m.step for m in mae]}

    # --- model registry ------------------------------------------------------------------------
    model_name = "churn model %s" % suffix
    registered = client.create_registered_model(
        model_name, tags={"team": "team a"}, description="created by the gateway e2e workflow"
    )
    result["registered_model_name"] = registered.name
    check(registered.name == model_name, "registered model name mangled")

    source = artifact_uri.rstrip("/") + "/model"
    version = client.create_model_version(
        model_name, source=source, run_id=run_id, tags={"validated": "true"}
    )
    result["model_version"] = str(version.version)
    result["model_version_source"] = version.source
    result["model_version_run_id"] = version.run_id
    check(version.run_id == run_id, "model version run_id mismatch")

    client.set_registered_model_alias(model_name, "champion", version.version)
    by_alias = client.get_model_version_by_alias(model_name, "champion")
    result["alias_version"] = str(by_alias.version)
    result["alias_aliases"] = list(getattr(by_alias, "aliases", []) or [])
    check(result["alias_version"] == result["model_version"], "alias resolved to another version")

    models = client.search_registered_models(filter_string="name = '%s'" % model_name)
    result["search_models_names"] = [m.name for m in models]
    check(result["search_models_names"] == [model_name], "search_registered_models mismatch")

    versions = client.search_model_versions("name = '%s'" % model_name)
    result["search_versions"] = sorted(
        ({"name": v.name, "version": str(v.version), "run_id": v.run_id} for v in versions),
        key=lambda v: int(v["version"]),
    )
    check(
        [v["version"] for v in result["search_versions"]] == [result["model_version"]],
        "search_model_versions mismatch",
    )

    fetched = client.get_registered_model(model_name)
    result["registered_model_aliases"] = dict(getattr(fetched, "aliases", {}) or {})
    result["ok"] = True
    return result


def main(argv):
    suffix = argv[1] if len(argv) > 1 and argv[1] else uuid.uuid4().hex[:10]
    return report(lambda result: run_workflow(suffix, result), {"suffix": suffix})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
