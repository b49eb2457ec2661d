// Opening a Store: SQLite (the embedded default) or PostgreSQL (several replicas), migrated and ready.
import { GpuplaneError } from '../common/errors.ts'
import type { BackendOptions } from './backend.ts'
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.ts'
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts'
import type { Store } from './types.ts'
import type { TelemetryStore } from '../telemetry/types.ts'

export type * from './types.ts'
export { LATEST_SCHEMA_VERSION } from './migrations.ts'
export { DEFAULT_HISTORY_REVISIONS } from './backend.ts'
export { PostgresStore, SqliteStore }

export interface OpenStoreOptions extends BackendOptions {
  /** A SQLite file (created if missing), or ':memory:' for a private in-memory store. */
  sqlite?: string
  /** A PostgreSQL URL: postgres://user[:password]@host[:port]/database. */
  postgres?: string
  sqliteOptions?: Omit<SqliteStoreOptions, keyof BackendOptions>
  postgresOptions?: Omit<PostgresStoreOptions, keyof BackendOptions>
}

/**
 * Opens the store named by exactly one of `sqlite` and `postgres` and applies pending migrations.
 * UNAVAILABLE when the database cannot be opened or reached (the store is closed again then).
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { sqlite, postgres, sqliteOptions, postgresOptions, ...common } = options
  if ((sqlite === undefined) === (postgres === undefined)) {
    throw new GpuplaneError('INVALID_INPUT', 'name exactly one store: a SQLite file (--db FILE) or a PostgreSQL URL (--postgres URL)')
  }
  const store: Store = sqlite !== undefined ? new SqliteStore(sqlite, { ...sqliteOptions, ...common }) : new PostgresStore(postgres!, { ...postgresOptions, ...common })
  try {
    await store.migrate()
  } catch (e) {
    await store.close().catch(() => {})
    throw e
  }
  return store
}

/**
 * The TelemetryStore beside a Store: the same SQLite connection or PostgreSQL pool (and schema),
 * so telemetry needs no second database and closes with the store. UNAVAILABLE for another Store.
 */
export function openTelemetryStore(store: Store): TelemetryStore {
  // SQLite and PostgreSQL stores keep telemetry beside the objects; the store may be seen through the server's proxies.
  const withTelemetry = store as Store & { telemetry?: () => TelemetryStore }
  if (typeof withTelemetry.telemetry === 'function') return withTelemetry.telemetry()
  throw new GpuplaneError('UNAVAILABLE', 'telemetry needs a SQLite (--db) or PostgreSQL (--postgres) store; this store keeps no telemetry')
}
