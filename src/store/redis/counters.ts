// Counters on Redis, shared by every gateway replica: Lua scripts, so a reservation is one atomic round trip and so is an adjustment.
//
// The reserve script is a transcription of decideReservation (src/governance/counters.ts): it
// reads every key, decides, and increments all or none, with nothing else running in Redis
// meanwhile. Operations share script calls, applied in the order they were asked, each atomic:
// the reservations and reads of one event-loop turn go together at its end, and adjustments
// (reconciliations, off the request path) wait up to ADJUST_DELAY_MS to ride with them, so a
// request costs Redis and this client about one command, not two. Keys are the governance keys
// under a prefix (`gpuplane:` by default) and expire at their window's end plus slack (EXPIRE by
// the increment that creates a key: a key names its window). Numbers cross the Lua boundary as
// decimal strings written with %.0f: Lua 5.1 would print 15-digit integers in exponent form. The
// scripts keep Redis calls few (a call costs Redis about as much as the script's own logic): a
// reservation is a GET and an INCRBY per key, an adjustment an INCRBY.
//
// Failure behaviour: commands are never queued while disconnected and never retried (a retried
// reservation could count twice); a command that cannot be sent, times out or loses its
// connection fails with GpuplaneError UNAVAILABLE, and the gateway applies its outage policy
// (src/governance/outage.ts). A reservation whose reply was lost may have been applied: it then
// holds its amount until its window expires, which errs on the side of the cap. ioredis keeps
// reconnecting in the background. Single-node Redis (or a primary with replicas); Redis Cluster
// would need all keys of a reservation in one hash slot.
import { Redis, ReplyError } from 'ioredis'
import { GpuplaneError } from '../../common/errors.ts'
import {
  checkAdjustItems,
  checkReserveItems,
  decideReservation,
  type AdjustItem,
  type CounterEntry,
  type Counters,
  type ReserveItem,
  type ReserveOptions,
  type ReserveResult,
} from '../../governance/counters.ts'

/** The default key prefix: every key is `gpuplane:` + the governance key (`tp/<ns>/...`). */
export const DEFAULT_COUNTER_PREFIX = 'gpuplane:'
/** A command that takes longer has failed (the gateway answers fast rather than hang on a sick Redis). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000
/** How long connect() waits for Redis. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000

const RESERVE_FIELDS_PER_ITEM = 6
/**
 * Longest an adjustment (a request's reconciliation, after its answer was sent) waits for a
 * reservation or read to share a call with. Each call is a write to Redis and a wake-up of it, and
 * at a few connections only one or two requests share a turn: waiting lets most reconciliations
 * ride with the next request's reservation. Meanwhile the counter still holds the reservation,
 * which errs toward the cap, never past it.
 */
export const ADJUST_DELAY_MS = 2

const LUA_COMMON = `
local function ceildiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  if q * b == a then return q end
  return q + 1
end
local function int(x) return string.format('%.0f', x) end
`

/**
 * The operations of one event-loop turn, reservations and adjustments, applied one after the other
 * in one script (each sees what those before it did, as separate scripts would). KEYS: every
 * operation's keys, one after the other. ARGV: the count of operations, then per operation its kind
 * ('r' reserve, 'a' adjust, 'g' get) and its count of keys n, then for a reservation its clamp
 * flag, min, max and per key amount, limit (-1: none), ttl, num, den (0/1: no rate), clamps flag;
 * for an adjustment per key delta, ttl. Replies, one per operation: a reservation's {1, units,
 * amounts..., values...} or {0, index, needed, current, values...}; an adjustment's values after
 * it; a get's values.
 */
const OPERATIONS_LUA = `${LUA_COMMON}
-- Per key of a reservation: amount, limit, num, den, clamps, value (arrays reused by every reservation of the call).
local amount, limit, num, den, clamps, value = {}, {}, {}, {}, {}, {}
local function amountAt(i, u)
  if num[i] == 0 or u == 0 then return amount[i] end
  local whole = math.floor(num[i] / den[i])
  return amount[i] + u * whole + ceildiv(u * (num[i] - whole * den[i]), den[i])
end
local function fits(i, u)
  return limit[i] < 0 or value[i] + amountAt(i, u) <= limit[i]
end
local function refuse(n, i, u)
  local out = {0, i - 1, amountAt(i, u), value[i]}
  for j = 1, n do out[4 + j] = value[j] end
  return out
end
-- A key's TTL is set when an increment creates it (its value is then the amount added): the key
-- names its window, so its expiry is that window's end plus slack whichever request created it.
local function reserve(k, a, n)
  local clamp = ARGV[a + 1] == '1'
  local cmin, cmax = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  for i = 1, n do
    local o = a + 3 + (i - 1) * ${RESERVE_FIELDS_PER_ITEM}
    amount[i] = tonumber(ARGV[o + 1])
    limit[i] = tonumber(ARGV[o + 2])
    num[i] = tonumber(ARGV[o + 4])
    den[i] = tonumber(ARGV[o + 5])
    clamps[i] = ARGV[o + 6] == '1'
    value[i] = tonumber(redis.call('GET', KEYS[k + i]) or '0')
  end
  local units = 0
  if clamp then
    for i = 1, n do
      if clamps[i] and not fits(i, cmin) then return refuse(n, i, cmin) end
    end
    local lo, hi = cmin, cmax
    while lo < hi do
      local mid = lo + math.ceil((hi - lo) / 2)
      local ok = true
      for i = 1, n do
        if clamps[i] and not fits(i, mid) then ok = false break end
      end
      if ok then lo = mid else hi = mid - 1 end
    end
    units = lo
  end
  for i = 1, n do
    if not fits(i, units) then return refuse(n, i, units) end
  end
  local out = {1, units}
  for i = 1, n do
    local amt = amountAt(i, units)
    local v = value[i]
    if amt > 0 then
      v = redis.call('INCRBY', KEYS[k + i], int(amt))
      if v == amt then redis.call('EXPIRE', KEYS[k + i], ARGV[a + 3 + (i - 1) * ${RESERVE_FIELDS_PER_ITEM} + 3]) end
    end
    out[2 + i] = amt
    out[2 + n + i] = v
  end
  return out
end
-- A counter never goes below 0; an absent key is created only by a positive delta. One INCRBY
-- when the key holds at least what is taken away (the usual release of an unused reservation).
local function adjust(k, a, n)
  local out = {}
  for i = 1, n do
    local key, delta = KEYS[k + i], tonumber(ARGV[a + 2 * i - 1])
    local v = redis.call('INCRBY', key, int(delta))
    if v == delta then
      -- The key was absent (or held 0): keep it only for a positive delta, with its TTL.
      if v > 0 then redis.call('EXPIRE', key, ARGV[a + 2 * i]) else redis.call('DEL', key) v = 0 end
    elseif v < 0 then
      redis.call('SET', key, '0', 'KEEPTTL')
      v = 0
    end
    out[i] = v
  end
  return out
end
local replies = {}
local k, a = 0, 1
for r = 1, tonumber(ARGV[1]) do
  local kind, n = ARGV[a + 1], tonumber(ARGV[a + 2])
  if kind == 'r' then
    replies[r] = reserve(k, a + 2, n)
    a = a + 5 + n * ${RESERVE_FIELDS_PER_ITEM}
  elseif kind == 'a' then
    replies[r] = adjust(k, a + 2, n)
    a = a + 2 + n * 2
  else
    local values = {}
    for i = 1, n do values[i] = tonumber(redis.call('GET', KEYS[k + i]) or '0') end
    replies[r] = values
    a = a + 2
  end
  k = k + n
end
return replies
`

/** KEYS: the keys. ARGV: per key value, ttl. Raises each counter to at least its value. */
const REBUILD_LUA = `${LUA_COMMON}
for i = 1, #KEYS do
  local value, ttl = tonumber(ARGV[2 * i - 1]), ARGV[2 * i]
  local cur = redis.call('GET', KEYS[i])
  if cur then
    if tonumber(cur) < value then redis.call('SET', KEYS[i], int(value), 'KEEPTTL') end
  elseif value > 0 then
    redis.call('SET', KEYS[i], int(value), 'EX', ttl)
  end
end
return #KEYS
`

type ScriptCommand = (numKeys: number, ...args: string[]) => Promise<unknown>
type ScriptedRedis = Redis & { gpuplaneOperations: ScriptCommand; gpuplaneRebuild: ScriptCommand }

export interface RedisCountersOptions {
  /** Prefix of every key (default DEFAULT_COUNTER_PREFIX); tests use a random one. */
  prefix?: string
  /** Default DEFAULT_COMMAND_TIMEOUT_MS. */
  commandTimeoutMs?: number
  /** Default DEFAULT_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number
  /** Called with each connection error (ioredis keeps reconnecting); the gateway logs it and counts it in a metric. */
  onError?: (error: Error) => void
  /**
   * false: return at once even when Redis cannot be reached yet (commands are UNAVAILABLE until it
   * is, and onRecovered listeners are called when it is). Default true: connect() fails with
   * UNAVAILABLE instead.
   */
  requireConnection?: boolean
}

export class RedisCounters implements Counters {
  readonly shared = true
  private readonly recovered = new Set<() => void>()
  /** Whether a connection error happened since the last time Redis was ready (the next 'ready' is a recovery). */
  private failed = false
  /** Operations waiting to be sent (see enqueue). */
  private queued: Queued[] = []
  /** A send is due at the end of this turn. */
  private sendSoon = false
  /** A send is due after ADJUST_DELAY_MS (only adjustments wait). */
  private sendLater: NodeJS.Timeout | undefined

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
  ) {
    const fail = () => {
      this.failed = true
    }
    redis.on('error', fail)
    redis.on('close', fail)
    redis.on('ready', () => {
      if (!this.failed) return
      this.failed = false
      for (const listener of this.recovered) listener()
    })
  }

  /** Whether the connection is ready now (commands are UNAVAILABLE while it is not). */
  get connected(): boolean {
    return this.redis.status === 'ready'
  }

  onRecovered(listener: () => void): () => void {
    this.recovered.add(listener)
    return () => this.recovered.delete(listener)
  }

  /** Connects to the Redis at `url` (e.g. `redis://127.0.0.1:6379`); UNAVAILABLE when it cannot be reached. */
  static async connect(url: string, options: RedisCountersOptions = {}): Promise<RedisCounters> {
    const redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      // No auto-pipelining: operations are already gathered into one command per send (see
      // enqueue), and a pipeline per command would only add its own bookkeeping.
      enableAutoPipelining: false,
    }) as ScriptedRedis
    redis.on('error', (e: Error) => options.onError?.(e))
    redis.defineCommand('gpuplaneOperations', { lua: OPERATIONS_LUA })
    redis.defineCommand('gpuplaneRebuild', { lua: REBUILD_LUA })
    const counters = new RedisCounters(redis, options.prefix ?? DEFAULT_COUNTER_PREFIX)
    try {
      await redis.connect()
    } catch (e) {
      if (options.requireConnection === false) return counters
      redis.disconnect()
      throw unavailable(e, url)
    }
    return counters
  }

  /**
   * Sent with the other operations of this event-loop turn, as one script call that applies them
   * in the order they were asked (see enqueue and OPERATIONS_LUA): under load, one command for many
   * requests. Each is still atomic, a reservation all or nothing; a failed call fails every
   * operation in it (UNAVAILABLE; like a lost reply, it may have applied).
   */
  reserve(items: readonly ReserveItem[], options: ReserveOptions = {}): Promise<ReserveResult> {
    try {
      checkReserveItems(items, options)
    } catch (e) {
      return Promise.reject(e)
    }
    if (items.length === 0) return Promise.resolve(decideReservation([], [], options))
    return this.enqueue<ReserveResult>({ kind: 'r', items, options })
  }

  /** Sent with the next reservation or read, within ADJUST_DELAY_MS (see enqueue). */
  adjust(items: readonly AdjustItem[]): Promise<number[]> {
    try {
      checkAdjustItems(items)
    } catch (e) {
      return Promise.reject(e)
    }
    if (items.length === 0) return Promise.resolve([])
    return this.enqueue<number[]>({ kind: 'a', items })
  }

  /**
   * Queues an operation. Reservations and reads go at the end of this turn; an adjustment alone
   * waits up to ADJUST_DELAY_MS for one to ride with (see ADJUST_DELAY_MS), never past it.
   */
  private enqueue<T>(op: Operation): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ op, resolve: resolve as (reply: unknown) => void, reject })
      if (this.sendSoon) return
      if (op.kind !== 'a') {
        this.sendSoon = true
        clearTimeout(this.sendLater)
        this.sendLater = undefined
        setImmediate(() => this.send())
      } else if (this.sendLater === undefined) {
        this.sendLater = setTimeout(() => this.send(), ADJUST_DELAY_MS)
      }
    })
  }

  private send(): void {
    clearTimeout(this.sendLater)
    this.sendLater = undefined
    this.sendSoon = false
    const batch = this.queued
    this.queued = []
    if (batch.length === 0) return
    const keys: string[] = []
    const args = [String(batch.length)]
    for (const { op } of batch) {
      if (op.kind === 'g') {
        args.push(op.kind, String(op.keys.length))
        for (const key of op.keys) keys.push(this.prefix + key)
        continue
      }
      args.push(op.kind, String(op.items.length))
      if (op.kind === 'r') {
        args.push(op.options.clamp ? '1' : '0', String(op.options.clamp?.min ?? 0), String(op.options.clamp?.max ?? 0))
        for (const item of op.items) {
          keys.push(this.prefix + item.key)
          args.push(String(item.amount), String(item.limit ?? -1), String(item.ttlSeconds), String(item.perUnit?.num ?? 0), String(item.perUnit?.den ?? 1), item.clamps ? '1' : '0')
        }
      } else {
        for (const item of op.items) {
          keys.push(this.prefix + item.key)
          args.push(String(item.delta), String(item.ttlSeconds))
        }
      }
    }
    this.call(() => this.redis.gpuplaneOperations(keys.length, ...keys, ...args)).then(
      (replies) =>
        batch.forEach(({ op, resolve }, i) => {
          const reply = (replies as number[][])[i]!
          resolve(op.kind === 'r' ? reserveResult(reply, op.items.length) : reply)
        }),
      (e: unknown) => batch.forEach((w) => w.reject(e)),
    )
  }

  /** Read with the other operations of this turn, in order (see reserve). */
  get(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return Promise.resolve([])
    return this.enqueue<number[]>({ kind: 'g', keys })
  }

  async rebuild(entries: readonly CounterEntry[]): Promise<void> {
    if (entries.length === 0) return
    const args = entries.flatMap((e) => [String(e.value), String(e.ttlSeconds)])
    await this.call(() => this.redis.gpuplaneRebuild(entries.length, ...this.keys(entries), ...args))
  }

  async close(): Promise<void> {
    // What waits (adjustments) is sent before the connection ends.
    if (this.queued.length > 0) this.send()
    try {
      await this.redis.quit()
    } catch {
      // Not connected: nothing to close gracefully.
      this.redis.disconnect()
    }
  }

  private keys(items: ReadonlyArray<{ key: string }>): string[] {
    return items.map((item) => this.prefix + item.key)
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (e) {
      throw unavailable(e)
    }
  }
}

type Operation = { kind: 'r'; items: readonly ReserveItem[]; options: ReserveOptions } | { kind: 'a'; items: readonly AdjustItem[] } | { kind: 'g'; keys: readonly string[] }

interface Queued {
  op: Operation
  resolve: (reply: unknown) => void
  reject: (e: unknown) => void
}

/** One reservation's reply of OPERATIONS_LUA as a ReserveResult. */
function reserveResult(reply: number[], n: number): ReserveResult {
  if (reply[0] === 1) return { ok: true, units: reply[1]!, amounts: reply.slice(2, 2 + n), values: reply.slice(2 + n, 2 + 2 * n) }
  return { ok: false, index: reply[1]!, needed: reply[2]!, current: reply[3]!, values: reply.slice(4, 4 + n) }
}

/** Redis errors as GpuplaneErrors: a script error is a bug (INTERNAL), anything else means Redis is unusable now (UNAVAILABLE). */
function unavailable(e: unknown, url?: string): GpuplaneError {
  const message = e instanceof Error ? e.message : String(e)
  if (e instanceof ReplyError && /^ERR (Error running script|user_script|Error compiling script)/.test(message)) {
    return new GpuplaneError('INTERNAL', `counter script failed in Redis: ${message}`, {}, { cause: e })
  }
  const where = url === undefined ? 'the counter Redis' : `Redis at ${withoutPassword(url)}`
  return new GpuplaneError('UNAVAILABLE', `${where} is unavailable (${message}); token counters cannot be read or written until it is back`, {}, { cause: e })
}

/** A Redis URL fit for messages: any password replaced by `***`. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'the configured URL'
  }
}
