"""What the end-to-end workflow scripts share: their assertion, and the one-JSON-object report.

A workflow writes the values it observed into a dict; `report` runs it with MLflow's own stdout
chatter ("View run ... at: ...") sent to stderr, and prints exactly one JSON object on stdout,
with "ok" and, on failure, "error" (the traceback goes to stderr). Exit status 0 or 1.
"""

import contextlib
import json
import sys
import traceback


class WorkflowError(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise WorkflowError(message)


def report(workflow, result):
    real_stdout = sys.stdout
    exit_code = 0
    try:
        with contextlib.redirect_stdout(sys.stderr):
            workflow(result)
        result.setdefault("ok", True)
    except BaseException as exc:  # noqa: BLE001 - report everything, including KeyboardInterrupt
        traceback.print_exc(file=sys.stderr)
        result["ok"] = False
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
        exit_code = 1
    real_stdout.write(json.dumps(result, ensure_ascii=False, sort_keys=True, default=str) + "\n")
    real_stdout.flush()
    return exit_code
