// The store's schema as an ordered list of versioned migrations, one SQL text per backend.
//
// Each backend applies every migration whose version is not yet recorded in `schema_migrations`,
// in order, each in its own transaction together with its record, so a crash between two leaves
// the schema at the last version recorded and a second migrate() is a no-op. Never edit a
// migration that has shipped: add a new one. A database migrated by a newer gpuplane (a version
// this code does not know) is refused rather than written with the wrong assumptions.
//
// Tables:
//   objects   one row per object: (kind, namespace, name) key ('' namespace for cluster-scoped
//             kinds), uid, resource_version (the revision of its last write), labels (a copy of
//             metadata.labels, which label selectors read), json (the object).
//   events    watch history: one row per write, keyed by its revision (gap-free), type
//             ADDED/MODIFIED/DELETED, key, json of the object after the write. Compacted to the
//             last N revisions; meta.compacted_revision says where history starts.
//   meta      one row: revision (the store-wide counter every write advances), allocation_epoch
//             (advanced by each commit made with an allocationEpoch), compacted_revision.
//   audit     append-only log: id, time, actor, action, kind, namespace, name, result, detail.
//   tokens    API tokens: id, sha256 hash (unique), namespace (NULL for admin), description, created_at.
//   usage_ledger  the gateway's append-only usage ledger (ledger.ts): seq (append order), id (the
//             request id, unique: the idempotency key), time (ms), namespace, agent, model,
//             endpoint, outcome, tokens, cost_micro, requests, status, reason, reserved_tokens, latency_ms.
//   telemetry_*  utilization (src/store/{sqlite,postgres}/telemetry.ts): raw samples keyed by
//             (time_ms, node, device, namespace, workload), minute/hour rollups keyed by step_ms and
//             start_ms, allocation intervals, and each agent's last batch seq (exactly-once ingest).
//   schema_migrations  version, name, applied_at of every migration applied (created by the runner).
//
// PostgreSQL keeps documents as `json`, not `jsonb`: jsonb reorders keys (shortest first), so
// objects would read back as {kind, spec, status, metadata, apiVersion}; `json` keeps the text
// as written and is still validated. Label selectors read the separate `labels` column (jsonb in
// PostgreSQL), so they do not parse whole documents: on 10,000 objects that is the difference
// between a list filtered in the database and one no faster than parsing every row in JS.
// Times are ISO strings in TEXT so that they read back exactly.
import { GpuplaneError } from '../common/errors.ts'

export interface Migration {
  version: number
  name: string
  sqlite: string
  postgres: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'objects, watch history and the revision counter',
    sqlite: `
      CREATE TABLE objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        labels TEXT NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (kind, namespace, name)
      );
      CREATE TABLE events (
        revision INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX events_kind_revision ON events (kind, revision);
      CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL,
        allocation_epoch INTEGER NOT NULL,
        compacted_revision INTEGER NOT NULL
      );
      INSERT INTO meta (id, revision, allocation_epoch, compacted_revision) VALUES (1, 0, 0, 0);
    `,
    postgres: `
      CREATE TABLE objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        uid TEXT NOT NULL,
        resource_version BIGINT NOT NULL,
        labels JSONB NOT NULL,
        json JSON NOT NULL,
        PRIMARY KEY (kind, namespace, name)
      );
      CREATE TABLE events (
        revision BIGINT PRIMARY KEY,
        type TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        json JSON NOT NULL
      );
      CREATE INDEX events_kind_revision ON events (kind, revision);
      CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision BIGINT NOT NULL,
        allocation_epoch BIGINT NOT NULL,
        compacted_revision BIGINT NOT NULL
      );
      INSERT INTO meta (id, revision, allocation_epoch, compacted_revision) VALUES (1, 0, 0, 0);
    `,
  },
  {
    version: 2,
    name: 'audit log',
    sqlite: `
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        kind TEXT,
        namespace TEXT,
        name TEXT,
        result TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX audit_namespace ON audit (namespace, id);
      CREATE INDEX audit_actor ON audit (actor, id);
    `,
    postgres: `
      CREATE TABLE audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        kind TEXT,
        namespace TEXT,
        name TEXT,
        result TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX audit_namespace ON audit (namespace, id);
      CREATE INDEX audit_actor ON audit (actor, id);
    `,
  },
  {
    version: 3,
    name: 'API tokens',
    sqlite: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        namespace TEXT,
        description TEXT,
        created_at TEXT NOT NULL
      );
    `,
    postgres: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        namespace TEXT,
        description TEXT,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'usage ledger',
    sqlite: `
      CREATE TABLE usage_ledger (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        time INTEGER NOT NULL,
        namespace TEXT NOT NULL,
        agent TEXT NOT NULL,
        model TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        outcome TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cost_micro INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        status INTEGER NOT NULL,
        reason TEXT,
        reserved_tokens INTEGER,
        latency_ms INTEGER
      );
      CREATE INDEX usage_ledger_time ON usage_ledger (time);
      CREATE INDEX usage_ledger_namespace_time ON usage_ledger (namespace, time);
    `,
    postgres: `
      CREATE TABLE usage_ledger (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        time BIGINT NOT NULL,
        namespace TEXT NOT NULL,
        agent TEXT NOT NULL,
        model TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        outcome TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cost_micro BIGINT NOT NULL,
        requests INTEGER NOT NULL,
        status INTEGER NOT NULL,
        reason TEXT,
        reserved_tokens BIGINT,
        latency_ms BIGINT
      );
      CREATE INDEX usage_ledger_time ON usage_ledger (time);
      CREATE INDEX usage_ledger_namespace_time ON usage_ledger (namespace, time);
    `,
  },
  {
    version: 5,
    name: 'telemetry: utilization samples, their minute and hour rollups, allocation intervals, agent batch sequence numbers',
    sqlite: `
      CREATE TABLE telemetry_samples (
        time_ms BIGINT NOT NULL,
        node TEXT NOT NULL,
        device TEXT NOT NULL,
        namespace TEXT NOT NULL,
        workload TEXT NOT NULL,
        uuid TEXT,
        gpu_model TEXT,
        share DOUBLE PRECISION NOT NULL,
        used_percent DOUBLE PRECISION NOT NULL,
        sm_util DOUBLE PRECISION NOT NULL,
        mem_used BIGINT NOT NULL,
        mem_total BIGINT NOT NULL,
        power DOUBLE PRECISION,
        processes TEXT,
        PRIMARY KEY (time_ms, node, device, namespace, workload)
      ) WITHOUT ROWID;
      CREATE TABLE telemetry_rollups (
        step_ms BIGINT NOT NULL,
        start_ms BIGINT NOT NULL,
        node TEXT NOT NULL,
        device TEXT NOT NULL,
        namespace TEXT NOT NULL,
        workload TEXT NOT NULL,
        gpu_model TEXT,
        share DOUBLE PRECISION NOT NULL,
        used_percent DOUBLE PRECISION NOT NULL,
        sm_util DOUBLE PRECISION NOT NULL,
        mem_used DOUBLE PRECISION NOT NULL,
        samples BIGINT NOT NULL,
        PRIMARY KEY (step_ms, start_ms, node, device, namespace, workload)
      ) WITHOUT ROWID;
      CREATE TABLE telemetry_intervals (
        node TEXT NOT NULL,
        device TEXT NOT NULL,
        namespace TEXT NOT NULL,
        workload TEXT NOT NULL,
        gpu_model TEXT NOT NULL,
        share DOUBLE PRECISION NOT NULL,
        gpu_uuid TEXT,
        is_partition INTEGER,
        from_ms BIGINT NOT NULL,
        to_ms BIGINT,
        PRIMARY KEY (node, device, namespace, workload, from_ms)
      );
      CREATE UNIQUE INDEX telemetry_intervals_open ON telemetry_intervals (node, device, namespace, workload) WHERE to_ms IS NULL;
      CREATE INDEX telemetry_intervals_from ON telemetry_intervals (from_ms);
      CREATE TABLE telemetry_agents (
        agent_id TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        last_seq BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL
      );
    `,
    postgres: `
      CREATE TABLE telemetry_samples (
        time_ms BIGINT NOT NULL,
        node TEXT NOT NULL,
        device TEXT NOT NULL,
        namespace TEXT NOT NULL,
        workload TEXT NOT NULL,
        uuid TEXT,
        gpu_model TEXT,
        share DOUBLE PRECISION NOT NULL,
        used_percent DOUBLE PRECISION NOT NULL,
        sm_util DOUBLE PRECISION NOT NULL,
        mem_used BIGINT NOT NULL,
        mem_total BIGINT NOT NULL,
        power DOUBLE PRECISION,
        processes TEXT,
        PRIMARY KEY (time_ms, node, device, namespace, workload)
      );
      CREATE TABLE telemetry_rollups (
        step_ms BIGINT NOT NULL,
        start_ms BIGINT NOT NULL,
        node TEXT NOT NULL,
        device TEXT NOT NULL,
        namespace TEXT NOT NULL,
        workload TEXT NOT NULL,
        gpu_model TEXT,
        share DOUBLE PRECISION NOT NULL,
        used_percent DOUBLE PRECISION NOT NULL,
        sm_util DOUBLE PRECISION NOT NULL,
        mem_used DOUBLE PRECISION NOT NULL,
        samples BIGINT NOT NULL,
        PRIMARY KEY (step_ms, start_ms, node, device, namespace, workload)
      );
      CREATE TABLE telemetry_intervals (
        node TEXT NOT NULL,
        device TEXT NOT NULL,
        namespace TEXT NOT NULL,
        workload TEXT NOT NULL,
        gpu_model TEXT NOT NULL,
        share DOUBLE PRECISION NOT NULL,
        gpu_uuid TEXT,
        is_partition INTEGER,
        from_ms BIGINT NOT NULL,
        to_ms BIGINT,
        PRIMARY KEY (node, device, namespace, workload, from_ms)
      );
      CREATE UNIQUE INDEX telemetry_intervals_open ON telemetry_intervals (node, device, namespace, workload) WHERE to_ms IS NULL;
      CREATE INDEX telemetry_intervals_from ON telemetry_intervals (from_ms);
      CREATE TABLE telemetry_agents (
        agent_id TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        last_seq BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL
      );
    `,
  },
]

/** The schema version this code migrates to (readiness checks compare the store's with it). */
// The highest version, not the last entry: reserved versions may be appended out of order (5 before 4).
export const LATEST_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version))

/** The table the runner records applied migrations in; the same SQL works on both backends. */
export const SCHEMA_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`

/** Refuses a database whose schema is newer than this code knows. */
export function checkSchemaKnown(applied: number): void {
  if (applied > LATEST_SCHEMA_VERSION) {
    throw new GpuplaneError(
      'UNAVAILABLE',
      `the database schema is at version ${applied}, newer than this gpuplane knows (${LATEST_SCHEMA_VERSION}): run a gpuplane at least as new as the one that migrated it`,
    )
  }
}
