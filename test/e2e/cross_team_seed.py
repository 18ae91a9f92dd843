#!/usr/bin/env python3
"""Two teams' data for the cross-team suite (test/e2e/cross-team.test.ts), written straight into MLflow.

    MLFLOW_TRACKING_URI=http://MLFLOW MLFLOW_S3_ENDPOINT_URL=... AWS_ACCESS_KEY_ID=... \\
        .cache/venvs/mlflow-<version>/bin/python test/e2e/cross_team_seed.py

Seeds team a, then team b. Everything is created directly against the tracking server (no gateway),
as a team that owns it would: an experiment `team-<t>/...`, a run with metrics, params, tags, an input
dataset and artifacts, a trace with spans, tags (3.x: and assessments), a logged model with params,
tags, a metric and artifacts (3.x), an evaluation dataset with records (3.x), a registered model
`team-<t>-...` with a version, a version tag, an alias and tags, a prompt `team-<t>-...` with an alias
(3.x), an LLM-judge scorer, an issue, a label schema and a review queue holding the trace (3.x). B's
model gets a second version made from a's run, so a's run is where b's data can be reached from (a
search of model versions by a's run must still show team a none of b's).

Every name and value a team writes carries a token `zz<T><nn>q` (`zzB07q`), so the suite can search
any answer for b's data; stdout is one JSON object `{"a": ..., "b": ...}`: each team's ids, names
and values, and its `tokens`.
No gateway, no AWS credentials but the S3 stand-in's.
"""

import json
import os
import sys
import tempfile
import time

import client_defaults
from workflow_report import check, report

client_defaults.apply(timeout_seconds=60)


class Tokens:
    """Distinct markers: fixed width, so no token is a part of another."""

    def __init__(self, team):
        self.team = team.upper()
        self.all = []

    def __call__(self, label):
        token = "zz%s%02dq" % (self.team, len(self.all) + 1)
        self.all.append(token)
        return "%s-%s" % (label, token)


def lap(result, step, last=[time.monotonic()]):
    """Seconds each step took, for the suite's timing line (it must fit in CI)."""
    now = time.monotonic()
    result.setdefault("seconds", {})[step] = round(now - last[0], 2)
    last[0] = now


def rest(method, path, body=None):
    """A call the Python client has no API for, straight to the tracking server."""
    import requests

    response = requests.request(method, os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + path, json=body, timeout=60)
    check(response.ok, "%s %s answered %s: %s" % (method, path, response.status_code, response.text[:500]))
    return response.json()


def seed(team, other, result):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    major = int(mlflow.__version__.split(".")[0])
    result["mlflow_version"] = mlflow.__version__
    mark = Tokens(team)
    client = MlflowClient()
    work = tempfile.mkdtemp(prefix="xteam-%s-" % team)

    # --- an experiment, and a second one (for the attempts that rename or delete) -------------
    experiment_name = "team-%s/%s" % (team, mark("experiment"))
    experiment_tag = mark("exp-tag")
    experiment_id = client.create_experiment(experiment_name, tags={experiment_tag: mark("exp-tag-value")})
    spare_name = "team-%s/%s" % (team, mark("spare experiment"))
    spare_id = client.create_experiment(spare_name)
    result["experiment"] = {"id": experiment_id, "name": experiment_name, "tag_key": experiment_tag}
    result["spare_experiment"] = {"id": spare_id, "name": spare_name}
    mlflow.set_experiment(experiment_id=experiment_id)

    lap(result, "experiments")
    # --- a run: metrics, params, tags, an input dataset, artifacts ----------------------------
    metric_key, param_key, param_value, tag_key, tag_value = mark("metric"), mark("param"), mark("param-value"), mark("tag"), mark("tag-value")
    metric_value = 31337.4242 if team == "b" else 1.5
    with mlflow.start_run(run_name=mark("run")) as active:
        run_id = active.info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(metric_key, metric_value, now, 0), Metric(metric_key, metric_value + 1, now + 1, 1)],
            params=[Param(param_key, param_value)],
            tags=[RunTag(tag_key, tag_value)],
        )
        import pandas as pd

        frame = pd.DataFrame({mark("column"): [1, 2]})
        mlflow.log_input(mlflow.data.from_pandas(frame, name=mark("input-dataset")), context="training")
        notes = os.path.join(work, "notes")
        os.makedirs(notes)
        artifact_text = "run artifact %s\n" % mark("artifact-text")
        # The file's name carries a token too: a listing shows names, not contents.
        artifact_name = "%s.txt" % mark("notes")
        with open(os.path.join(notes, artifact_name), "w") as f:
            f.write(artifact_text)
        mlflow.log_artifacts(notes, artifact_path="notes")
        model_dir = os.path.join(work, "model")
        os.makedirs(model_dir)
        with open(os.path.join(model_dir, "MLmodel"), "w") as f:
            f.write("flavors: {}\nmarker: %s\n" % mark("mlmodel"))
        mlflow.log_artifacts(model_dir, artifact_path="model")
        artifact_uri = active.info.artifact_uri
    spare_run = client.create_run(experiment_id, run_name=mark("spare run"))
    client.set_terminated(spare_run.info.run_id)
    result["run"] = {
        "id": run_id,
        "artifact_uri": artifact_uri,
        "metric_key": metric_key,
        "metric_value": metric_value,
        "param_key": param_key,
        "param_value": param_value,
        "tag_key": tag_key,
        "tag_value": tag_value,
        "artifact_path": "notes/" + artifact_name,
        "artifact_text": artifact_text,
    }
    result["spare_run"] = {"id": spare_run.info.run_id}

    lap(result, "run")
    # --- a trace, its tags (3.x: spans through the client; 2.x: the server's v2 trace API) ----
    question, answer = mark("question"), mark("answer")
    trace_tag_key, trace_tag_value = mark("trace-tag"), mark("trace-tag-value")
    if major >= 3:

        @mlflow.trace(name=mark("span"))
        def app(q):
            return answer

        with mlflow.start_run(run_id=run_id):
            app(question)
        mlflow.flush_trace_async_logging()
        trace_id = mlflow.get_last_active_trace_id()
        client.set_trace_tag(trace_id, trace_tag_key, trace_tag_value)
        feedback = mlflow.log_feedback(trace_id=trace_id, name=mark("feedback"), value=mark("feedback-value"), rationale=mark("rationale"))
        expectation = mlflow.log_expectation(trace_id=trace_id, name=mark("expectation"), value=mark("expected"))
        result["trace"] = {"id": trace_id, "assessment_id": feedback.assessment_id, "expectation_id": expectation.assessment_id}
    else:
        # 2.16's client-side tracing fails with the OpenTelemetry SDK its venv resolves
        # (artifacts.test.ts); the store calls are what its client would make.
        from mlflow.entities import TraceData
        from mlflow.entities.trace_status import TraceStatus
        from mlflow.tracking._tracking_service.utils import _get_store

        store = _get_store()
        info = store.start_trace(experiment_id, int(time.time() * 1000), {"mlflow.sourceRun": run_id}, {trace_tag_key: trace_tag_value})
        trace_id = info.request_id
        store.end_trace(trace_id, int(time.time() * 1000) + 5, TraceStatus.OK, {"mlflow.traceInputs": question, "mlflow.traceOutputs": answer}, {})
        client._upload_trace_data(store.get_trace_info(trace_id), TraceData(spans=[], request=json.dumps({"q": question}), response=json.dumps(answer)))
        result["trace"] = {"id": trace_id}
    result["trace"].update({"question": question, "answer": answer, "tag_key": trace_tag_key, "tag_value": trace_tag_value})

    lap(result, "trace")
    # --- a logged model: params, tags, a metric on it, artifacts (3.x) ------------------------
    if major >= 3:
        logged_tag = mark("lm-tag")
        logged = client.create_logged_model(
            experiment_id, name=mark("logged-model"), source_run_id=run_id, params={mark("lm-param"): mark("lm-param-value")}, tags={logged_tag: mark("lm-tag-value")}
        )
        model_files = os.path.join(work, "logged")
        os.makedirs(model_files)
        with open(os.path.join(model_files, "MLmodel"), "w") as f:
            f.write("flavors: {}\nmarker: %s\n" % mark("lm-artifact"))
        with open(os.path.join(model_files, "%s.txt" % mark("lm-notes")), "w") as f:
            f.write("logged model notes\n")
        client.log_model_artifacts(logged.model_id, model_files)
        client.finalize_logged_model(logged.model_id, "READY")
        client.log_metric(run_id, mark("lm-metric"), 2.5, model_id=logged.model_id)
        result["logged_model"] = {"id": logged.model_id, "name": logged.name, "tag_key": logged_tag}

    lap(result, "logged model")
    # --- an evaluation dataset with records (3.x) ---------------------------------------------
    if major >= 3:
        from mlflow.genai.datasets import create_dataset

        dataset_tag = mark("ds-tag")
        dataset = create_dataset(name=mark("eval-dataset"), experiment_id=experiment_id, tags={dataset_tag: mark("ds-tag-value")})
        dataset.merge_records([{"inputs": {"question": mark("record-input")}, "expectations": {"answer": mark("record-expectation")}}])
        records = dataset.to_df()
        result["dataset"] = {"id": dataset.dataset_id, "name": dataset.name, "tag_key": dataset_tag, "record_id": str(records["dataset_record_id"].iloc[0])}

    lap(result, "dataset")
    # --- a registered model: tags, a version from the run, a version tag, an alias ------------
    model_name = "team-%s-%s" % (team, mark("model"))
    model_tag, version_tag = mark("rm-tag"), mark("mv-tag")
    client.create_registered_model(model_name, tags={model_tag: mark("rm-tag-value")}, description=mark("rm-description"))
    version = client.create_model_version(model_name, source=artifact_uri.rstrip("/") + "/model", run_id=run_id, tags={version_tag: mark("mv-tag-value")}, description=mark("mv-description"))
    alias = "champion"
    client.set_registered_model_alias(model_name, alias, version.version)
    result["model"] = {"name": model_name, "version": str(version.version), "alias": alias, "tag_key": model_tag, "version_tag_key": version_tag}
    if other:
        # b's second version is made from a's run: reachable from a's run id (GraphQL's run
        # modelVersions, SearchModelVersions by run_id), and it is still b's.
        crossed = client.create_model_version(model_name, source=other["run"]["artifact_uri"].rstrip("/") + "/model", run_id=other["run"]["id"], description=mark("crossed-version"))
        result["model"]["crossed_version"] = str(crossed.version)
    spare_model = "team-%s-%s" % (team, mark("spare model"))
    client.create_registered_model(spare_model)
    result["spare_model"] = {"name": spare_model}

    lap(result, "registered model")
    # --- a prompt with an alias (3.x) ---------------------------------------------------------
    if major >= 3:
        prompt_name = "team-%s-%s" % (team, mark("prompt"))
        prompt_tag = mark("prompt-tag")
        prompt = mlflow.genai.register_prompt(name=prompt_name, template="%s {{question}}" % mark("template"), tags={prompt_tag: mark("prompt-tag-value")})
        mlflow.genai.set_prompt_alias(prompt_name, alias="production", version=prompt.version)
        # A tag on the prompt entry itself (register_prompt's tags go on its version).
        client.set_prompt_tag(prompt_name, prompt_tag, mark("prompt-entry-tag-value"))
        result["prompt"] = {"name": prompt_name, "version": str(prompt.version), "alias": "production", "tag_key": prompt_tag, "version_tag_key": prompt_tag}

    lap(result, "prompt")
    # --- an LLM-judge scorer registered to the experiment (3.x; registering calls no model) ---
    if major >= 3:
        from mlflow.genai.judges import make_judge

        judge = make_judge(name=mark("judge"), instructions="Is {{ outputs }} about %s? Answer yes or no." % mark("judge-text"), model="openai:/gpt-4o-mini")
        judge.register(experiment_id=experiment_id)
        listed = rest("GET", "/api/3.0/mlflow/scorers/list?experiment_id=%s" % experiment_id)["scorers"]
        result["scorer"] = {"name": judge.name, "id": listed[0]["scorer_id"], "serialized": listed[0]["serialized_scorer"]}

    lap(result, "scorer")
    # --- 3.x's review tooling, by REST (no client API yet): an issue, a label schema, a queue ---
    if major >= 3:
        issue = rest("POST", "/api/3.0/mlflow/issues", {"experiment_id": experiment_id, "name": mark("issue"), "description": mark("issue-text"), "status": "pending", "severity": "low"})
        schema = rest("POST", "/api/3.0/mlflow/label-schemas/create", {"experiment_id": experiment_id, "name": mark("label-schema"), "type": "FEEDBACK", "input": {"text": {}}})
        queue = rest("POST", "/api/3.0/mlflow/review-queues/create", {"experiment_id": experiment_id, "name": mark("review-queue"), "queue_type": "CUSTOM"})
        queue_id = queue["review_queue"]["queue_id"]
        items = rest("POST", "/api/3.0/mlflow/review-queues/items/add", {"queue_id": queue_id, "item_type": "TRACE", "item_ids": [result["trace"]["id"]]})
        result["review"] = {
            "issue_id": issue["issue"]["issue_id"],
            "label_schema_id": schema["label_schema"]["schema_id"],
            "label_schema_name": schema["label_schema"]["name"],
            "queue_id": queue_id,
            "queue_name": queue["review_queue"]["name"],
            "queue_item_id": (items.get("items") or [{}])[0].get("item_id"),
        }

    lap(result, "review")
    result["tokens"] = mark.all
    check(len(set(mark.all)) == len(mark.all), "tokens repeat")


def seed_both(result):
    # One process for both teams: importing mlflow is most of a seed's time.
    result["a"], result["b"] = {"team": "a"}, {"team": "b"}
    seed("a", None, result["a"])
    seed("b", result["a"], result["b"])


def main():
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    return report(seed_both, {})


if __name__ == "__main__":
    sys.exit(main())
