#!/usr/bin/env python3
"""Prints what each MLflow operation's request can carry, for the resource table's drift test.

Run by one MLflow's python (test/scopes/operation-resources.test.ts spawns each pinned venv's):

    .cache/venvs/mlflow-3.17.2/bin/python scripts/request-fields.py

It prints one JSON line: {"version", "operations": {name: [{"method", "template", "fields"}]},
"graphql": {root field: [argument paths]}}.
  * operations: every proto route of mlflow.server.handlers.get_endpoints(), named as the operation
    table names it (scripts/gen-operations.py operation_name), with the field paths of its request
    message by proto name: nested messages walked (`metrics.model_id`, repeated ones too), map
    entries and google.protobuf types not (their keys are the caller's, not fields). Routes MLflow
    serves outside the protos (get-artifact, upload-artifact, OTLP...) have no message and are left
    out: their table rows are checked by reading MLflow's handlers, not here.
  * graphql: the root fields of the schema `/graphql` executes (graphql_schema_extensions.schema),
    each with its arguments' paths as the resolver sees them (`input.experiment_id`: graphene's
    python names, which the resolver hands to ParseDict).
"""
import importlib.util
import json
import logging
import os
import sys

# Deep enough for StartTraceV3's trace.trace_info.trace_location.mlflow_experiment.experiment_id,
# bounded because some messages nest themselves (assessments, spans).
MAX_DEPTH = 6


def operation_naming():
    """gen-operations.py's naming, so both scripts name a route the same way."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("gen_operations", os.path.join(here, "gen-operations.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def field_paths(descriptor, prefix="", depth=0):
    paths = []
    for field in descriptor.fields:
        path = prefix + field.name
        paths.append(path)
        message = field.message_type
        if message is None or depth >= MAX_DEPTH:
            continue
        if message.GetOptions().map_entry or message.full_name.startswith("google.protobuf."):
            continue
        paths.extend(field_paths(message, path + ".", depth + 1))
    return paths


def proto_operations(naming):
    from mlflow.server import handlers

    operations = {}
    for path, handler, methods in handlers.get_endpoints(get_handler=lambda request_class: request_class):
        if not isinstance(handler, type) or path.startswith("/ajax-api/"):
            continue  # a view function (no message), or the UI's twin of an /api/ route
        name = naming.operation_name(handler.__name__, path)
        for method in methods:
            operations.setdefault(name, []).append({
                "method": method,
                "template": naming.template(path),
                "fields": field_paths(handler.DESCRIPTOR),
            })
    return operations


def graphql_fields():
    from mlflow.server.graphql.graphql_schema_extensions import schema

    graphql_schema = schema.graphql_schema
    fields = {}
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        for name, field in root.fields.items():
            paths = set()
            for argument_name, argument in field.args.items():
                argument_out = argument.out_name or argument_name
                paths.add(argument_out)
                named = argument.type
                while hasattr(named, "of_type"):
                    named = named.of_type
                for input_name, input_field in getattr(named, "fields", {}).items():
                    paths.add(f"{argument_out}.{input_field.out_name or input_name}")
            fields[name] = sorted(set(fields.get(name, [])) | paths)
    return fields


def main():
    logging.disable(logging.CRITICAL)
    import mlflow

    naming = operation_naming()
    print(json.dumps({"version": mlflow.__version__, "operations": proto_operations(naming), "graphql": graphql_fields()}))


if __name__ == "__main__":
    sys.exit(main())
