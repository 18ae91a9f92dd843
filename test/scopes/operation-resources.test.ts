// The per-operation resource table (src/scopes/operation-resources.ts), against the operation table
// and against the pinned MLflows themselves. Scoped policies decide from this table alone, so:
// a route MLflow adds fails here until it is declared; a declaration that names a field MLflow does
// not have (a typo, a field renamed upstream) fails here instead of silently checking nothing; and
// every operation a scoped policy grants as is, or never grants, says why.
import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { venvPython } from '../support/mlflow.ts';
import { REPO } from '../support/processes.ts';
import { MLFLOW_TABLE_VERSIONS } from '../../src/rules/mlflow-operations.ts';
import { OPERATION_NAMES, routesOf } from '../../src/rules/operations.ts';
import {
  GRAPHQL_FIELD_RESOURCES,
  GRAPHQL_NESTED_FIELD_RESOURCES,
  OPERATION_RESOURCES,
  type OperationResources,
  type Place,
  type ResourceRef,
} from '../../src/scopes/operation-resources.ts';

setDefaultTimeout(120_000);

const refsOf = (resources: OperationResources): ReadonlyArray<ResourceRef> => ('refs' in resources ? resources.refs ?? [] : []);
const placesOf = (ref: ResourceRef): ReadonlyArray<Place> => (Array.isArray(ref.at) ? ref.at : [ref.at as Place]);
/** The request-message field a place names, if it names one (a path segment or header does not). */
const fieldOf = (place: Place): string | undefined => (typeof place === 'string' ? place : 'query' in place ? place.query : undefined);
const placeholderCount = (template: string) => (template.match(/\{\+?\}/g) ?? []).length;

/** Each place of every declaration, with the operation it belongs to. */
function declaredPlaces(table: Readonly<Record<string, OperationResources>>): Array<{ name: string; ref: ResourceRef; place: Place }> {
  return Object.entries(table).flatMap(([name, resources]) => refsOf(resources).flatMap((ref) => placesOf(ref).map((place) => ({ name, ref, place }))));
}

describe('the table declares every operation of the operation table, and nothing else', () => {
  test('every operation has a declaration (a new MLflow route fails here until it is declared)', () => {
    expect(OPERATION_NAMES.filter((name) => !(name in OPERATION_RESOURCES))).toEqual([]);
  });

  test('no declaration names an operation the table does not have', () => {
    expect(Object.keys(OPERATION_RESOURCES).filter((name) => !OPERATION_NAMES.includes(name))).toEqual([]);
  });

  test('every operation granted as is (global) or never granted to a scope (unscopable) says why, in a sentence', () => {
    const unexplained = Object.entries(OPERATION_RESOURCES)
      .filter(([, resources]) => ('global' in resources || 'unscopable' in resources))
      .filter(([, resources]) => {
        const reason = 'global' in resources ? resources.global : (resources as { unscopable: string }).unscopable;
        return typeof reason !== 'string' || reason.trim().split(/\s+/).length < 4;
      })
      .map(([name]) => name);
    expect(unexplained).toEqual([]);
  });

  test('a declaration that touches resources names at least one place for each', () => {
    const empty = declaredPlaces(OPERATION_RESOURCES).length === 0 ? ['(none at all)'] : [];
    for (const [name, resources] of Object.entries(OPERATION_RESOURCES)) {
      if ('refs' in resources && !('filter' in resources) && (resources.refs ?? []).length === 0) empty.push(`${name}: refs is empty (declare it global, with why)`);
      for (const ref of refsOf(resources)) if (placesOf(ref).length === 0) empty.push(`${name}: a ${ref.kind} with no place`);
    }
    expect(empty).toEqual([]);
  });
});

describe('path segments: every placeholder a declaration names is one its routes have', () => {
  test('each { path: n } exists in a route template of its operation', () => {
    const missing = declaredPlaces(OPERATION_RESOURCES)
      .filter(({ place }) => typeof place === 'object' && 'path' in place)
      .filter(({ name, place }) => !routesOf(name).some((route) => placeholderCount(route.path) > (place as { path: number }).path))
      .map(({ name, place }) => `${name}: { path: ${(place as { path: number }).path} } (routes: ${routesOf(name).map((r) => r.path).join(', ')})`);
    expect(missing).toEqual([]);
  });

  test('on every route of an operation, each ref can be given: its placeholder is there, or it has a place that is not a path segment', () => {
    const unreachable: string[] = [];
    for (const [name, resources] of Object.entries(OPERATION_RESOURCES)) {
      for (const route of routesOf(name)) {
        for (const ref of refsOf(resources)) {
          const places = placesOf(ref);
          const reachable = places.some((place) => typeof place !== 'object' || !('path' in place) || placeholderCount(route.path) > place.path);
          if (!reachable) unreachable.push(`${name} ${route.method} ${route.path}: its ${ref.kind} is only in a path segment this route does not have`);
        }
      }
    }
    expect(unreachable).toEqual([]);
  });
});

interface RequestFields {
  version: string;
  operations: Record<string, Array<{ method: string; template: string; fields: string[] }>>;
  graphql: Record<string, string[]>;
}

function requestFields(version: string): RequestFields {
  const run = spawnSync(venvPython(version), [join(REPO, 'scripts/request-fields.py')], { encoding: 'utf8', timeout: 100_000 });
  if (run.status !== 0) throw new Error(`listing MLflow ${version}'s request fields failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

// GraphQL root fields that perform no MLflow operation (graphql_schema_extensions.py echoes its
// input): pipeline/graphql.ts refuses them, so they need no declaration.
const GRAPHQL_ECHO_FIELDS = new Set(['test', 'testMutation']);

// Drift: the declarations against what each pinned MLflow's requests really carry. Every version the
// operation table was generated from is read (not just MLFLOW_VERSIONS), because a field MLflow
// added in 3.x (LogBatch's metrics.model_id) is declared for the operation, not per version.
describe(`against the pinned MLflows (${MLFLOW_TABLE_VERSIONS.join(', ')})`, () => {
  let byVersion: RequestFields[];
  beforeAll(() => {
    byVersion = MLFLOW_TABLE_VERSIONS.map(requestFields);
  });

  test('each venv is the version the operation table names', () => {
    expect(byVersion.map((fields) => fields.version)).toEqual([...MLFLOW_TABLE_VERSIONS]);
  });

  test('every field a proto operation declares exists in its request message, in a pinned version that serves it', () => {
    const unknown = declaredPlaces(OPERATION_RESOURCES)
      .map(({ name, place }) => ({ name, field: fieldOf(place) }))
      .filter(({ name, field }) => field !== undefined && byVersion.some((fields) => name in fields.operations))
      .filter(({ name, field }) => !byVersion.some((fields) => (fields.operations[name] ?? []).some((route) => route.fields.includes(field!))))
      .map(({ name, field }) => `${name}: ${field}`);
    expect([...new Set(unknown)]).toEqual([]);
  });

  test('no declared field is one the newest pinned MLflow has dropped from a message it still serves', () => {
    const newest = () => byVersion[byVersion.length - 1]!;
    const dropped = declaredPlaces(OPERATION_RESOURCES)
      .map(({ name, place }) => ({ name, field: fieldOf(place) }))
      .filter(({ name, field }) => field !== undefined && name in newest().operations)
      .filter(({ name, field }) => !newest().operations[name]!.some((route) => route.fields.includes(field!)))
      .filter(({ name, field }) => byVersion.some((fields) => (fields.operations[name] ?? []).some((route) => route.fields.includes(field!))))
      .map(({ name, field }) => `${name}: ${field}`);
    expect([...new Set(dropped)]).toEqual([]);
  });

  test('every GraphQL root field MLflow serves is declared, and no other', () => {
    const served = new Set(byVersion.flatMap((fields) => Object.keys(fields.graphql)).filter((name) => !GRAPHQL_ECHO_FIELDS.has(name)));
    expect(Object.keys(GRAPHQL_FIELD_RESOURCES).sort()).toEqual([...served].sort());
  });

  test('every GraphQL argument a root field declares exists on that field', () => {
    const unknown = declaredPlaces(GRAPHQL_FIELD_RESOURCES)
      .map(({ name, place }) => ({ name, field: fieldOf(place) }))
      .filter(({ name, field }) => field === undefined || !byVersion.some((fields) => (fields.graphql[name] ?? []).includes(field)))
      .map(({ name, field }) => `${name}: ${field ?? '(not an argument)'}`);
    expect(unknown).toEqual([]);
  });

  test('the nested GraphQL fields that perform an operation are declared (pipeline/graphql.ts NESTED_FIELDS)', () => {
    expect(Object.keys(GRAPHQL_NESTED_FIELD_RESOURCES).sort()).toEqual(['experiment', 'modelVersions']);
  });
});
