#!/usr/bin/env python3
"""Artifacts and models through the gateway with the stock MLflow client and no AWS credentials.

    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT MLFLOW_TRACKING_TOKEN=<key> \
        .cache/venvs/mlflow-<version>/bin/python test/e2e/artifacts_workflow.py log WORKDIR SUFFIX
    ... artifacts_workflow.py load WORKDIR RUN_ID MODEL_NAME MODEL_VERSION [TRACE_ID]

`log` writes files under WORKDIR, logs them (a 50 MB file, a tree with spaces and unicode names,
log_dict/log_text, a multipart upload through mpu/*, a pyfunc model), registers the model and prints
one JSON object: ids, the run's artifact URI and the sha256 of every file it logged, by artifact path.
`log` also records a trace. `load` runs in a fresh process: download_artifacts, list_artifacts,
load_dict/load_text, get_trace, and pyfunc.load_model("models:/NAME/VERSION") + predict; it prints
sha256s and answers as JSON.
Everything MLflow prints goes to stderr. Exit status 1 (and an "error" key) on failure.
"""

import hashlib
import json
import os
import sys
import traceback

import client_defaults

client_defaults.apply(timeout_seconds=120)

# A tree whose names need care in URLs and S3 keys: spaces, unicode, nesting.
TREE = {
    "readme.txt": b"top level\n",
    "dir with spaces/notes 1.txt": "spaces in names\n".encode(),
    "dir with spaces/ünïcødé – ファイル.txt": "unicode ✓\n".encode(),
    "nested/deeper/data (v2).json": b'{"k": [1, 2, 3]}',
}
BIG_BYTES = 50 * 1024 * 1024
MULTIPART_BYTES = 12 * 1024 * 1024


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_random(path, size, seed):
    # Deterministic, incompressible enough, and quick: sha256 in counter mode.
    with open(path, "wb") as f:
        counter = 0
        written = 0
        while written < size:
            block = b"".join(hashlib.sha256(b"%s-%d-%d" % (seed, counter, i)).digest() for i in range(2048))
            block = block[: size - written]
            f.write(block)
            written += len(block)
            counter += 1


def log_phase(workdir, suffix, result):
    import mlflow
    import mlflow.pyfunc

    class AddN(mlflow.pyfunc.PythonModel):
        def __init__(self, n):
            self.n = n

        def predict(self, context, model_input, params=None):
            return model_input.apply(lambda column: column + self.n)

    major = int(mlflow.__version__.split(".")[0])
    mlflow.set_experiment(f"artifacts {suffix}")
    hashes = {}
    with mlflow.start_run() as run:
        result["run_id"] = run.info.run_id
        result["experiment_id"] = run.info.experiment_id
        result["artifact_uri"] = mlflow.get_artifact_uri()

        big = os.path.join(workdir, "big.bin")
        write_random(big, BIG_BYTES, b"big")
        mlflow.log_artifact(big)
        hashes["big.bin"] = sha256_file(big)

        tree = os.path.join(workdir, "tree")
        for relative, content in TREE.items():
            path = os.path.join(tree, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
            hashes[f"tree/{relative}"] = hashlib.sha256(content).hexdigest()
        mlflow.log_artifacts(tree, artifact_path="tree")

        mlflow.log_dict({"alpha": 0.5, "layers": [1, 2]}, "config/params.json")
        mlflow.log_text("hello from the gateway ✓\n", "notes/hello.txt")
        hashes["notes/hello.txt"] = hashlib.sha256("hello from the gateway ✓\n".encode()).hexdigest()

        # MLflow 2.9+'s multipart upload through mpu/create|complete: parts go to presigned URLs.
        os.environ["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] = "true"
        os.environ["MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE"] = str(10 * 1024 * 1024)
        os.environ["MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"] = str(5 * 1024 * 1024)
        multi = os.path.join(workdir, "multipart.bin")
        write_random(multi, MULTIPART_BYTES, b"multi")
        mlflow.log_artifact(multi, artifact_path="mpu")
        hashes["mpu/multipart.bin"] = sha256_file(multi)
        for name in ("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"):
            del os.environ[name]

        # A trace: its data (2.x) or attachments (3.x) go to the location in its
        # mlflow.artifactLocation tag, which the gateway shows as mlflow-artifacts:/.
        @mlflow.trace(name="traced step")
        def traced_step(x):
            return x + 1

        traced_step(1)
        if hasattr(mlflow, "flush_trace_async_logging"):
            mlflow.flush_trace_async_logging()
        if hasattr(mlflow, "get_last_active_trace_id"):
            result["trace_id"] = mlflow.get_last_active_trace_id()
        else:
            # MLflow 2.16's span processor fails with the OpenTelemetry SDK its venv resolves
            # ('MlflowSpanProcessor' object has no attribute '_shutdown'): no trace is recorded.
            last = mlflow.get_last_active_trace()
            result["trace_id"] = last.info.request_id if last else None

        kwargs = {"name": "model"} if major >= 3 else {"artifact_path": "model"}
        info = mlflow.pyfunc.log_model(python_model=AddN(2), pip_requirements=["mlflow"], **kwargs)
        result["model_uri"] = info.model_uri
        model_name = f"artifacts-model-{suffix}"
        version = mlflow.register_model(info.model_uri, model_name)
        result["model_name"] = model_name
        result["model_version"] = str(version.version)
        result["model_version_source"] = version.source
    result["hashes"] = hashes


def load_phase(workdir, run_id, model_name, model_version, result):
    import mlflow
    import pandas as pd

    client = mlflow.MlflowClient()
    result["artifact_uri"] = client.get_run(run_id).info.artifact_uri
    out = os.path.join(workdir, "downloaded")
    os.makedirs(out, exist_ok=True)
    hashes = {}
    big = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="big.bin", dst_path=out)
    hashes["big.bin"] = sha256_file(big)
    tree = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree", dst_path=out)
    for root, _, files in os.walk(tree):
        for name in files:
            path = os.path.join(root, name)
            hashes["tree/" + os.path.relpath(path, tree).replace(os.sep, "/")] = sha256_file(path)
    notes = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes/hello.txt", dst_path=out)
    hashes["notes/hello.txt"] = sha256_file(notes)
    multi = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="mpu/multipart.bin", dst_path=out)
    hashes["mpu/multipart.bin"] = sha256_file(multi)
    result["hashes"] = hashes

    result["top_level"] = sorted(f.path for f in client.list_artifacts(run_id))
    result["tree_listing"] = sorted(
        (f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, "tree/dir with spaces")
    )
    result["dict"] = mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json")
    result["text"] = mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt")

    if len(sys.argv) > 6 and sys.argv[6]:
        trace = mlflow.get_trace(sys.argv[6])
        result["trace_spans"] = [span.name for span in trace.data.spans]

    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{model_version}")
    prediction = model.predict(pd.DataFrame({"x": [1, 2, 3]}))
    result["prediction"] = [int(v) for v in prediction["x"].tolist()]


def main():
    result = {"ok": False}
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        phase, workdir = sys.argv[1], sys.argv[2]
        if phase == "log":
            log_phase(workdir, sys.argv[3], result)
        else:
            load_phase(workdir, sys.argv[3], sys.argv[4], sys.argv[5], result)
        result["ok"] = True
    except Exception as error:
        traceback.print_exc()
        result["error"] = f"{type(error).__name__}: {error}"
    sys.stdout = real_stdout
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
