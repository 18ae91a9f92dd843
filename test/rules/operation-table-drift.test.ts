// The drift check: the gateway's operation table against the routes each pinned MLflow registers.
// Each MLflow's own python builds the app `mlflow server` serves (the Flask app with every proto
// route, and from 3.x the FastAPI app around it: scripts/gen-operations.py --rows) and lists its
// routes; every one must be an operation the gateway classifies, under the table's name. A new
// MLflow (or a row lost from the table) fails here naming the routes, instead of answering 403 "not
// an MLflow operation" in production. Routes cannot be listed over HTTP, so the app is built, not
// served: the same objects, without a port.
import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { MLFLOW_VERSIONS, venvPython } from '../support/mlflow.ts';
import { REPO } from '../support/processes.ts';
import { MLFLOW_ROUTES, MLFLOW_TABLE_VERSIONS } from '../../src/rules/mlflow-operations.ts';
import { routeOperation } from '../../src/rules/operations.ts';

setDefaultTimeout(60_000);

type Row = [operation: string, method: string, template: string];

function registeredRoutes(version: string): { version: string; routes: Row[] } {
  const run = spawnSync(venvPython(version), [join(REPO, 'scripts/gen-operations.py'), '--rows'], { encoding: 'utf8', timeout: 50_000 });
  if (run.status !== 0) throw new Error(`listing MLflow ${version}'s routes failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

/** A concrete path of a template's shape: `{}` one segment, `{+}` several. */
function samplePath(template: string): string {
  return template.replace(/\{\+\}/g, 'x1/y1').replace(/\{\}/g, 'x1');
}

for (const version of MLFLOW_VERSIONS) {
  describe(`MLflow ${version}`, () => {
    let listed: { version: string; routes: Row[] };
    beforeAll(() => {
      listed = registeredRoutes(version);
    });

    test('is the version the venv holds, and one the table was generated from', () => {
      expect(listed.version).toBe(version);
      expect(MLFLOW_TABLE_VERSIONS).toContain(version);
    });

    test('every route its server registers is an operation the gateway classifies, under the table\'s name', () => {
      const unclassified = listed.routes
        .map(([operation, method, template]) => ({ operation, method, template, found: routeOperation(method, samplePath(template)) }))
        .filter((r) => r.found !== r.operation)
        .map((r) => `${r.method} ${r.template} (${r.operation})${r.found ? ` is classified as ${r.found}` : ' is not in the table'}`);
      expect(unclassified).toEqual([]);
    });

    test('the table claims no route for it that its server does not register', () => {
      const index = String(MLFLOW_TABLE_VERSIONS.indexOf(version));
      const registered = new Set(listed.routes.map(([operation, method, template]) => `${operation} ${method} ${template.replace(/^\/ajax-api\//, '/api/')}`));
      const stale = MLFLOW_ROUTES.filter(([, , , versions]) => versions.includes(index))
        .map(([operation, method, template]) => `${operation} ${method} ${template.replace(/^\/ajax-api\//, '/api/')}`)
        .filter((key) => !registered.has(key));
      expect(stale).toEqual([]);
    });
  });
}
