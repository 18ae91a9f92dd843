// What an MLflow server holds, read straight from its stores (the SQLite file `mlflow server` keeps
// in its temp dir, and the S3 bucket under its artifact root), so a test can say which writes
// reached it without asking MLflow, or the gateway, anything. A snapshot is every row of every table
// and every object's key, size and ETag; two snapshots give the rows and objects that appeared or
// went away (a changed row is one of each).
//
// `touching` keeps the changes that concern one owner's data: a row or key that names one of its ids,
// names or marker tokens, lies under one of its artifact prefixes, or has one of its experiment ids in
// an experiment column. A new row that only points at the owner's data (a model version whose source
// is the owner's run, a tag holding the owner's prompt name) is a change of the owner's data too.
import { Database } from 'bun:sqlite';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Server } from './s3.ts';

export interface StoreSnapshot {
  /** Table → its rows, each as JSON of its columns. */
  rows: Map<string, Set<string>>;
  /** Object (`s3://bucket/key`) → `size etag`. */
  objects: Map<string, string>;
}

export interface StoreChange {
  where: string;
  change: 'added' | 'removed';
  /** The row as JSON, or the object's `s3://bucket/key`. */
  what: string;
}

/** Whose data a change is about: any of these found in a row or key makes it theirs. */
export interface Owner {
  /** Ids, names and marker tokens, matched as substrings of any text cell. */
  strings: ReadonlyArray<string>;
  /** Experiment ids, matched exactly in experiment columns (they are short numbers). */
  experimentIds: ReadonlyArray<string>;
  /** Artifact locations of the owner's experiments (`s3://bucket/root/3`), matched as a path prefix. */
  artifactPrefixes: ReadonlyArray<string>;
}

// Written by MLflow on its own (schedulers, metric roll-ups rebuilt in the background), not by the
// request being looked at: leaving them in would blame a request for a timer's work.
const BACKGROUND_TABLES = new Set([
  'alembic_version',
  'scheduler_leases',
  'job_locks',
  'sql_trace_metric_daily_rollups',
  'sql_span_cost_daily_rollups',
  'sql_assessment_daily_rollups',
  'sql_trace_rollup_rebuild_queue',
]);

export function readTables(dbPath: string): Map<string, Set<string>> {
  const db = new Database(dbPath, { readonly: true });
  try {
    return tablesOf(db);
  } finally {
    db.close();
  }
}

/** Every table, read in one transaction (one consistent view). */
function tablesOf(db: Database): Map<string, Set<string>> {
  // MLflow writes on its own too (3.x's background tasks): wait for its lock instead of failing.
  db.run('PRAGMA busy_timeout = 10000');
  db.run('BEGIN');
  try {
    const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all();
    const rows = new Map<string, Set<string>>();
    for (const { name } of tables) {
      if (BACKGROUND_TABLES.has(name)) continue;
      const all = db.query<Record<string, unknown>, []>(`SELECT * FROM "${name}"`).all();
      rows.set(name, new Set(all.map((row) => JSON.stringify(row, (_key, value) => (value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value)))));
    }
    return rows;
  } finally {
    db.run('COMMIT');
  }
}

/**
 * The store's tables, read again only when someone committed since the last read (SQLite's
 * data_version, per connection): a table of attempts that MLflow refused costs one PRAGMA each.
 */
export class StoreTables {
  private readonly db: Database;
  private version = -1;
  private rows = new Map<string, Set<string>>();

  constructor(dbPath: string) {
    this.db = new Database(dbPath, { readonly: true });
  }

  read(): Map<string, Set<string>> {
    const version = (this.db.query<{ data_version: number }, []>('PRAGMA data_version').get()!).data_version;
    if (version !== this.version) {
      this.rows = tablesOf(this.db);
      this.version = version;
    }
    return this.rows;
  }

  close(): void {
    this.db.close();
  }
}

export async function readObjects(s3: S3Server, bucket: string, prefix: string): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const object of page.Contents ?? []) objects.set(`s3://${bucket}/${object.Key}`, `${object.Size} ${object.ETag}`);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

export async function snapshot(dbPath: string, s3: S3Server, bucket: string, prefix: string): Promise<StoreSnapshot> {
  return { rows: readTables(dbPath), objects: await readObjects(s3, bucket, prefix) };
}

export function changesBetween(before: StoreSnapshot, after: StoreSnapshot): StoreChange[] {
  const changes: StoreChange[] = [];
  for (const table of new Set([...before.rows.keys(), ...after.rows.keys()])) {
    const old = before.rows.get(table) ?? new Set<string>();
    const now = after.rows.get(table) ?? new Set<string>();
    for (const row of now) if (!old.has(row)) changes.push({ where: table, change: 'added', what: row });
    for (const row of old) if (!now.has(row)) changes.push({ where: table, change: 'removed', what: row });
  }
  for (const [key, version] of after.objects) if (before.objects.get(key) !== version) changes.push({ where: 's3', change: 'added', what: key });
  for (const [key, version] of before.objects) if (after.objects.get(key) !== version) changes.push({ where: 's3', change: 'removed', what: key });
  return changes;
}

/** The changes that concern the owner's data. */
export function touching(changes: ReadonlyArray<StoreChange>, owner: Owner): StoreChange[] {
  return changes.filter((change) => (change.where === 's3' ? keyIsOwners(change.what, owner) : rowIsOwners(change.where, JSON.parse(change.what), owner)));
}

function keyIsOwners(uri: string, owner: Owner): boolean {
  return owner.strings.some((s) => uri.includes(s)) || owner.artifactPrefixes.some((prefix) => uri.startsWith(`${prefix}/`));
}

function rowIsOwners(table: string, row: Record<string, unknown>, owner: Owner): boolean {
  for (const [column, value] of Object.entries(row)) {
    if (value === null || value === undefined) continue;
    const text = String(value);
    if (/experiment_id$/.test(column) && owner.experimentIds.includes(text)) return true;
    if (owner.strings.some((s) => text.includes(s))) return true;
    if (owner.artifactPrefixes.some((prefix) => `${text}/`.includes(`${prefix}/`))) return true;
  }
  // MLflow 3.x links datasets, traces, runs and prompts to experiments through this table, with the
  // experiment id as text beside its type.
  if (table === 'entity_associations') {
    for (const side of ['source', 'destination']) {
      if (String(row[`${side}_type`]).toLowerCase() === 'experiment' && owner.experimentIds.includes(String(row[`${side}_id`]))) return true;
    }
  }
  return false;
}
