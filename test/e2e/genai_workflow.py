#!/usr/bin/env python3
"""A GenAI workflow driven by the real MLflow 3.x Python client, for end-to-end tests.

    MLFLOW_TRACKING_URI=http://GATEWAY MLFLOW_TRACKING_TOKEN=<key> \\
        .cache/venvs/mlflow-3.17.2/bin/python test/e2e/genai_workflow.py write SUFFIX
    ... genai_workflow.py trace|read SUFFIX '<json the write run printed>'

`write` does what a GenAI developer does: traced calls (`@mlflow.trace`, nested
`mlflow.start_span`), a prompt registered, aliased and loaded inside a trace (which links it to the
trace), an evaluation dataset created and its records merged, an LLM judge registered as a scorer,
a scikit-learn model logged,
registered, aliased and loaded back as `models:/name@alias`; then it reads the traces back with
`search_traces` / `get_trace` and checks they hold the spans themselves.

`trace` is a training job's share (the log-runs policy): a traced call using that prompt, and a
logged model, not registered.

`read` is a reader's view of the same objects (traces, prompt, dataset records, the model), plus one
traced call, whose export a read-only client is expected to be refused.

Only public MLflow APIs are used. stdout carries exactly one JSON object (the observed values); exit
status 0 on success, 1 with an "error" key otherwise. No AWS variables are needed or wanted.
"""

import json
import logging
import sys
import time

import client_defaults
from workflow_report import WorkflowError, check, report

client_defaults.apply(timeout_seconds=60)


def wait_for(condition, what, timeout=30.0):
    """Polls condition() until it returns a true value; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WorkflowError("timed out waiting for " + what)
        time.sleep(0.2)


def traced_app(mlflow, prompt_uri=None):
    """An app with nested spans: a root @mlflow.trace, a child start_span, a grandchild @mlflow.trace."""

    @mlflow.trace(span_type="RETRIEVER")
    def retrieve(question):
        return ["doc about " + question]

    @mlflow.trace(name="answer_question", span_type="CHAIN")
    def answer(question):
        with mlflow.start_span(name="build_prompt") as span:
            span.set_inputs({"question": question})
            if prompt_uri:
                prompt = mlflow.genai.load_prompt(prompt_uri)
                text = prompt.format(question=question)
            else:
                text = "Q: " + question
            span.set_outputs({"prompt": text})
        docs = retrieve(question)
        return text + " | " + docs[0]

    return answer


def span_names(trace):
    return sorted(span.name for span in trace.data.spans)


def dataset_records(dataset):
    rows = dataset.to_df().to_dict("records")
    return sorted([row["inputs"]["question"], row["expectations"]["answer"]] for row in rows)


def mark(result, step, started=[time.monotonic()]):
    """Seconds since the previous step, for the test's failure messages."""
    now = time.monotonic()
    result.setdefault("seconds", {})[step] = round(now - started[0], 2)
    started[0] = now


def write(suffix, result):
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    result["mlflow_version"] = mlflow.__version__
    client = MlflowClient()
    experiment = mlflow.set_experiment("genai app %s" % suffix)
    result["experiment_id"] = experiment.experiment_id

    # --- a prompt: registered, aliased, loaded inside a trace (linked to it) -------------------
    prompt_name = "qa-prompt-%s" % suffix
    prompt = mlflow.genai.register_prompt(name=prompt_name, template="Answer briefly: {{question}}")
    mlflow.genai.set_prompt_alias(prompt_name, alias="production", version=prompt.version)
    result["prompt_name"] = prompt_name
    result["prompt_version"] = prompt.version

    mark(result, 'prompt registered')
    # --- traces: two calls, nested spans ------------------------------------------------------
    app = traced_app(mlflow, prompt_uri="prompts:/%s@production" % prompt_name)
    result["answer"] = app("what is a gateway")
    app("why sign requests")
    mlflow.flush_trace_async_logging()
    traces = wait_for(
        lambda: (lambda found: found if len(found) == 2 else None)(
            mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
        ),
        "search_traces to return both traces",
    )
    result["trace_ids"] = sorted(t.info.trace_id for t in traces)
    result["searched_span_names"] = [span_names(t) for t in traces]
    trace = mlflow.get_trace(result["trace_ids"][0])
    result["got_span_names"] = span_names(trace)
    check(trace.data.spans, "get_trace returned a trace without spans (missing span data)")
    root = [s for s in trace.data.spans if s.parent_id is None]
    check(len(root) == 1 and root[0].name == "answer_question", "the root span is not answer_question")
    result["span_count"] = sum(len(t.data.spans) for t in traces)

    mark(result, 'traces')
    # The prompt link is made in a background thread after export: wait for it on the trace.
    def linked():
        tags = mlflow.get_trace(result["trace_ids"][0]).info.tags
        return tags.get("mlflow.linkedPrompts")

    result["linked_prompts"] = json.loads(wait_for(linked, "the prompt to be linked to the trace"))

    mark(result, 'prompt linked')
    # --- an evaluation dataset: created, records merged (twice: the second merge updates) ------
    from mlflow.genai.datasets import create_dataset, get_dataset

    dataset = create_dataset(name="qa-eval-%s" % suffix, experiment_id=experiment.experiment_id, tags={"stage": "e2e"})
    dataset.merge_records([
        {"inputs": {"question": "what is a gateway"}, "expectations": {"answer": "a proxy"}},
        {"inputs": {"question": "why sign requests"}, "expectations": {"answer": "SigV4"}},
    ])
    dataset.merge_records([{"inputs": {"question": "what is a gateway"}, "expectations": {"answer": "a signing proxy"}}])
    reloaded = get_dataset(dataset_id=dataset.dataset_id)
    result["dataset_id"] = dataset.dataset_id
    result["dataset_records"] = dataset_records(reloaded)

    mark(result, 'dataset')
    # --- a scorer: an LLM judge registered to the experiment (registration calls no model) -----
    from mlflow.genai.judges import make_judge
    from mlflow.genai.scorers import get_scorer, list_scorers

    judge = make_judge(name="polite-%s" % suffix, instructions="Is {{ outputs }} polite? Answer yes or no.", model="openai:/gpt-4o-mini")
    judge.register()
    result["scorer_name"] = judge.name
    result["scorers"] = [s.name for s in list_scorers()]
    check(get_scorer(name=judge.name).name == judge.name, "get_scorer did not find the registered judge")
    mark(result, "scorer")

    # --- a scikit-learn model: logged, registered, aliased, loaded by alias -------------------
    model_name = "genai-classifier-%s" % suffix
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    labels = np.array([0, 0, 1, 1])
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(features, labels)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=model_name, input_example=features[:1])
    result["run_id"] = run.info.run_id
    result["logged_model_id"] = info.model_id
    versions = client.search_model_versions("name='%s'" % model_name)
    check(len(versions) == 1, "log_model registered %d versions, expected 1" % len(versions))
    version = versions[0].version
    client.set_registered_model_alias(model_name, "champion", version)
    result["model_name"] = model_name
    result["model_version"] = version
    loaded = mlflow.sklearn.load_model("models:/%s@champion" % model_name)
    result["model_predictions"] = [int(p) for p in loaded.predict(features)]
    result["logged_model_status"] = str(client.get_logged_model(info.model_id).status)
    mark(result, "model")


def trace(suffix, previous, result):
    """What a training job with log-runs does: a traced call that uses the shared prompt, and a
    logged (not registered) model."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    result["mlflow_version"] = mlflow.__version__
    experiment = mlflow.set_experiment("training job %s" % suffix)
    traced_app(mlflow, prompt_uri="prompts:/%s@production" % previous["prompt_name"])("a trainer's question")
    mlflow.flush_trace_async_logging()
    traces = wait_for(
        lambda: mlflow.search_traces(locations=[experiment.experiment_id], return_type="list"),
        "search_traces to return the trace",
    )
    trace_id = traces[0].info.trace_id
    result["trace_ids"] = [trace_id]
    result["got_span_names"] = span_names(mlflow.get_trace(trace_id))
    result["linked_prompts"] = json.loads(wait_for(
        lambda: mlflow.get_trace(trace_id).info.tags.get("mlflow.linkedPrompts"), "the prompt to be linked to the trace"
    ))
    with mlflow.start_run():
        model = LogisticRegression().fit(np.array([[0.0], [3.0]]), np.array([0, 1]))
        info = mlflow.sklearn.log_model(model, name="model")
    result["model_predictions"] = [int(p) for p in mlflow.sklearn.load_model(info.model_uri).predict([[0.0], [3.0]])]


def read(suffix, previous, result):
    import mlflow

    result["mlflow_version"] = mlflow.__version__
    traces = mlflow.search_traces(locations=[previous["experiment_id"]], return_type="list")
    result["trace_ids"] = sorted(t.info.trace_id for t in traces)
    result["got_span_names"] = span_names(mlflow.get_trace(previous["trace_ids"][0]))
    prompt = mlflow.genai.load_prompt("prompts:/%s@production" % previous["prompt_name"])
    result["prompt_template"] = prompt.template
    from mlflow.genai.datasets import get_dataset

    result["dataset_records"] = dataset_records(get_dataset(dataset_id=previous["dataset_id"]))
    loaded = mlflow.sklearn.load_model("models:/%s@champion" % previous["model_name"])
    result["model_predictions"] = [int(p) for p in loaded.predict([[0.0], [3.0]])]
    from mlflow.genai.scorers import list_scorers

    mlflow.set_experiment(experiment_id=previous["experiment_id"])
    result["scorers"] = [s.name for s in list_scorers()]
    # A reader's traced call: the client tries to export it, which a read-only policy refuses; the
    # client swallows that (logs a warning), so the call itself still answers.
    result["answer"] = traced_app(mlflow)("a reader's question")
    mlflow.flush_trace_async_logging()


def main():
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mode, suffix = sys.argv[1], sys.argv[2]
    if mode == "write":
        return report(lambda result: write(suffix, result), {"mode": mode})
    if mode == "trace":
        return report(lambda result: trace(suffix, json.loads(sys.argv[3]), result), {"mode": mode})
    return report(lambda result: read(suffix, json.loads(sys.argv[3]), result), {"mode": mode})


if __name__ == "__main__":
    sys.exit(main())
