#!/usr/bin/env python3
"""Generates src/rules/mlflow-operations.ts: every route the MLflow server registers, per version.

One command regenerates the table from installed MLflow versions (the test venvs of
scripts/setup-python.sh); a new MLflow release is one run of it and one commit:

    python3 scripts/gen-operations.py .cache/venvs/mlflow-2.16.2/bin/python \\
        .cache/venvs/mlflow-3.17.2/bin/python

`python scripts/gen-operations.py --rows`, run by one MLflow's python, prints that MLflow's routes as
the table names them (test/rules/operation-table-drift.test.ts compares them with the table).

Each interpreter runs this same file with --dump: it imports that MLflow's server and lists what it
registers, exactly as a running `mlflow server` would route it:
  * the proto RPCs, from mlflow.server.handlers.get_endpoints() with a get_handler that returns the
    request class itself, so each route carries its proto request name (the IAM-style name);
  * every other Flask rule of mlflow.server.app (get-artifact, the UI's ajax-only routes, /version,
    /health, static files...), named after its view function;
  * from 3.x, the FastAPI app that wraps Flask (mlflow/server/fastapi_app.py create_fastapi_app):
    OTLP `/v1/traces`, jobs, the AI gateway's invocation routes, the assistant, the MCP registry.
The parent merges the dumps into one table whose rows say which of the versions serve each route.

Naming: proto routes keep their request name (CreateExperiment). Other routes are named from their
view function (`_list_gateway_secrets` → ListGatewaySecrets, `serve_get_metric_history_bulk` →
GetMetricHistoryBulk); NAMES below renames the few whose function name says nothing useful.
Access (read or write) and the sensitive class of each operation are decided here, once, so the
TypeScript side never guesses (see classify()).
"""
import json
import re
import subprocess
import sys

OUT = "src/rules/mlflow-operations.ts"

# View functions whose names are not a good operation name, and the artifact proxy API's proto names,
# which the gateway replaces by three that say what a security team decides (read, write, delete
# artifact bytes; src/rules/operations.ts has the old names for "did you mean").
NAMES = {
    "version": "GetServerVersion",
    "health": "GetServerHealth",
    "serve_artifacts": "GetArtifact",
    "serve_model_version_artifact": "GetModelVersionArtifact",
    # The UI's own upload of a file into a run's artifacts (server/__init__.py), not the proxy API.
    "serve_upload_artifact": "UploadRunArtifact",
    "serve": "AccessUI",
    "serve_static_file": "AccessUI",
    "static": "AccessUI",
    "export_traces": "ExportOtlpTraces",
    "_graphql": "GraphQL",
    "DownloadArtifact": "ReadArtifacts",
    "ListArtifacts@/api/2.0/mlflow-artifacts/artifacts": "ReadArtifacts",
    "<lambda>@/build/{+}": "AccessUI",
    "_list_artifacts_mlflow_artifacts": "ReadArtifacts",
    "GetPresignedDownloadUrl": "ReadArtifacts",
    "_get_presigned_download_url": "ReadArtifacts",
    "UploadArtifact": "WriteArtifacts",
    "CreateMultipartUpload": "WriteArtifacts",
    "CompleteMultipartUpload": "WriteArtifacts",
    "AbortMultipartUpload": "WriteArtifacts",
    "DeleteArtifact": "DeleteArtifacts",
    "_delete_artifact_mlflow_artifacts": "DeleteArtifacts",
    "download_artifact": "ReadArtifacts",
    "upload_artifact": "WriteArtifacts",
    "_download_artifact": "ReadArtifacts",
    "_upload_artifact": "WriteArtifacts",
    "_create_multipart_upload_artifact": "WriteArtifacts",
    "_complete_multipart_upload_artifact": "WriteArtifacts",
    "_abort_multipart_upload_artifact": "WriteArtifacts",
}

# Operations that hand out secrets or change the server for everyone, by path: a wildcard in a
# policy (`'*'`, `Get*`) never reaches them, only their exact name does (src/rules/operations.ts).
SENSITIVE = [
    # AI gateway secrets: provider API keys (mlflow/server/handlers.py _create_gateway_secret ...).
    (re.compile(r"^/(ajax-)?api/3\.0/mlflow/gateway/secrets/"), "secrets"),
    # AI gateway configuration and invocation: endpoints that spend the stored keys, budgets,
    # guardrails, and the UI's proxy to them (gateway_api.py, handlers.py, server/__init__.py).
    (re.compile(r"^/(ajax-)?api/3\.0/mlflow/gateway/"), "ai-gateway"),
    (re.compile(r"^/gateway/"), "ai-gateway"),
    (re.compile(r"^/(ajax-)?api/2\.0/mlflow/gateway-proxy$"), "ai-gateway"),
    # Workspaces partition the whole server (handlers.py _create_workspace_handler ...).
    (re.compile(r"^/(ajax-)?api/3\.0/mlflow/workspaces"), "workspaces"),
    # Webhooks make the server call arbitrary URLs with a signing secret.
    (re.compile(r"^/(ajax-)?api/2\.0/mlflow/webhooks"), "webhooks"),
    # The assistant runs tools (a shell) on the server host (server/assistant/api.py).
    (re.compile(r"^/(ajax-)?api/3\.0/mlflow/assistant/"), "assistant"),
    # The MCP server registry: servers and access endpoints other clients then call.
    (re.compile(r"^/(ajax-)?api/3\.0/mlflow/mcp-servers"), "mcp-registry"),
]

# Read-only by name, whatever the method (searches are POSTs). Everything else that is not a GET
# can change something.
READ_NAME = re.compile(r"^(Get|Search|List|BatchGet|Calculate|Query|Download|Read)")


def dump(named=False):
    """Runs under the MLflow being described: prints {version, routes: [[name, method, path]]};
    with named=True (--rows, the drift test's view) as the table names them, path templates and all."""
    import logging

    logging.disable(logging.CRITICAL)
    import mlflow
    from mlflow.server import app as flask_app
    from mlflow.server import handlers

    routes = []
    proto_rules = set()
    for path, handler, methods in handlers.get_endpoints(get_handler=lambda request_class: request_class):
        name = handler.__name__ if isinstance(handler, type) else function_name(handler.__name__)
        for method in methods:
            routes.append([name, method, path])
            proto_rules.add((method, path))
    for rule in flask_app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) in proto_rules:
                continue
            view = flask_app.view_functions[rule.endpoint]
            routes.append([function_name(getattr(view, "__name__", rule.endpoint)), method, rule.rule])
    try:
        from mlflow.server.fastapi_app import create_fastapi_app
    except ImportError:  # 2.x: a Flask app only
        create_fastapi_app = None
    if create_fastapi_app:
        for name, method, path in fastapi_routes(create_fastapi_app(flask_app).routes, ""):
            routes.append([function_name(name), method, path])
    if named:
        routes = sorted({(operation_name(n, p), m, template(p)) for n, m, p in routes})
    print(json.dumps({"version": mlflow.__version__, "routes": routes}))


def fastapi_routes(routes, prefix):
    """(view name, method, path) of FastAPI routes; newer FastAPI keeps included routers nested."""
    from starlette.routing import Mount

    for route in routes:
        if isinstance(route, Mount):
            continue  # the Flask app, mounted at "/": listed from its own url_map
        context = getattr(route, "include_context", None)
        if context is not None:
            yield from fastapi_routes(route.original_router.routes, prefix + context.prefix)
            continue
        for method in sorted(set(route.methods or ()) - {"HEAD", "OPTIONS"}):
            yield route.endpoint.__name__, method, prefix + route.path


def function_name(name):
    if name in NAMES:
        return NAMES[name]
    words = re.sub(r"^_+|^serve_|_handler$", "", name).split("_")
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def operation_name(name, path):
    """The table's name for a route: NAMES by name@path or by name, proto `...Request` trimmed, and
    the assistant's and AI gateway's generic view names (GetConfig, ListModels) given their area."""
    api_path = re.sub(r"^/ajax-api/", "/api/", template(path))
    name = NAMES.get(f"{name}@{api_path}", NAMES.get(name, name))
    name = re.sub(r"(?<=.)Request$", "", name)
    for prefix, area in (("/api/3.0/mlflow/assistant/", "Assistant"), ("/gateway/", "Gateway")):
        if api_path.startswith(prefix) and area not in name:
            name = area + name
    return name


def template(path):
    # Flask `<name>` / `<path:name>`, FastAPI `{name}` / `{name:path}`: `{}` is one segment, `{+}` the rest.
    path = re.sub(r"<path:[^>]+>|\{[^}:]+:path\}", "{+}", path)
    return re.sub(r"<[^>]+>|\{[^}+]+\}", "{}", path)


def classify(name, method, path):
    sensitive = next((label for pattern, label in SENSITIVE if pattern.search(path)), None)
    # GetOrCreateUserQueue creates one; CreatePresignedDownloadUrl only hands out a read link.
    reads = (method == "GET" or READ_NAME.match(name)) and "OrCreate" not in name
    access = "read" if reads or name == "CreatePresignedDownloadUrl" else "write"
    return access, sensitive


def main(pythons):
    by_version = {}
    for python in pythons:
        out = subprocess.run([python, __file__, "--dump"], check=True, capture_output=True, text=True).stdout
        data = json.loads(out.strip().splitlines()[-1])
        by_version[data["version"]] = data["routes"]
    versions = sorted(by_version, key=lambda v: [int(p) for p in v.split(".")])
    rows = {}
    for version in versions:
        for name, method, path in by_version[version]:
            key = (operation_name(name, path), method, template(path))
            rows.setdefault(key, []).append(version)
    # MLflow serves each API route twice, under /api/ and /ajax-api/ (the UI's prefix); the gateway
    # looks both up as one (operations.ts), so a twin is kept only where the /api/ route is missing.
    rows = {
        key: served for key, served in rows.items()
        if not (key[2].startswith("/ajax-api/") and (key[0], key[1], "/api/" + key[2][len("/ajax-api/"):]) in rows)
    }
    names = {}
    for (name, method, path) in rows:
        names.setdefault(name, set()).add(classify(name, method, path))
    lines = []
    for (name, method, path), served in sorted(rows.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0])):
        # An operation is write if any of its routes is, and sensitive if any is: one name, one answer.
        access = "write" if any(a == "write" for a, _ in names[name]) else "read"
        sensitive = next((s for _, s in names[name] if s), None)
        since = "".join(f"{versions.index(v)}" for v in sorted(set(served), key=versions.index))
        extra = f", '{sensitive}'" if sensitive else ""
        lines.append(f"  ['{name}', '{method}', '{path}', '{since}', '{access}'{extra}],")
    header = f"""// GENERATED by scripts/gen-operations.py from the routes MLflow {' and '.join(versions)} register
// (proto RPCs, the Flask app's other rules, and from 3.x the FastAPI app around it). Do not edit by
// hand: regenerate with `python3 scripts/gen-operations.py <python of each MLflow>` (README,
// "Operations and policies"). Each row: [operation, method, path template, versions serving it (as
// indexes into MLFLOW_TABLE_VERSIONS), read | write, sensitive class (only when named)].
// `{{}}` is one path segment, `{{+}}` the rest of the path. Proto operations carry their request
// name, which is also the `sagemaker-mlflow:<Operation>` IAM action name where AWS publishes one
// (src/rules/iam-actions.ts has that list); other routes are named after their view function.
export const MLFLOW_TABLE_VERSIONS: ReadonlyArray<string> = {json.dumps(versions).replace('"', "'")};

export type Access = 'read' | 'write';
export type SensitiveClass = 'secrets' | 'ai-gateway' | 'workspaces' | 'webhooks' | 'assistant' | 'mcp-registry';
export type OperationRow = readonly [operation: string, method: string, template: string, versions: string, access: Access, sensitive?: SensitiveClass];

export const MLFLOW_ROUTES: ReadonlyArray<OperationRow> = [
"""
    with open(OUT, "w") as f:
        f.write(header + "\n".join(lines) + "\n];\n")
    for version in versions:
        served = sum(1 for v in rows.values() if version in v)
        print(f"MLflow {version}: {served} routes, {len({k[0] for k, v in rows.items() if version in v})} operations")
    print(f"{len(lines)} rows, {len(names)} operations → {OUT}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--dump"]:
        dump()
    elif sys.argv[1:] == ["--rows"]:
        dump(named=True)
    elif len(sys.argv) > 1:
        main(sys.argv[1:])
    else:
        sys.exit(__doc__)
