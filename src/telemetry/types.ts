// The shapes utilization data takes between the node agent, the server's telemetry store and the analyses (attribution, idle detection, chargeback).
//
// Times are milliseconds since the epoch. A device is named as its ResourceSlice publishes it
// (node + DRA device name), so a sample joins to the ResourceClaim allocations that name the same
// (driver, pool, device). Percentages are 0..100; sizes are bytes.

/** One reading of one device (a whole GPU, or a MIG device where nvidia-smi reports it) by the node agent. */
export interface UtilizationSample {
  time: number
  node: string
  /** DRA device name as published in the node's ResourceSlice (e.g. `gpu-0`, `gpu-0-mig-3g-40gb-0`). */
  device: string
  /** GPU or MIG device UUID when known (joins nvidia-smi to the slice's `uuid` attribute). */
  uuid?: string
  /** SM (graphics engine) utilization, percent. */
  smUtil: number
  memUsedBytes: number
  memTotalBytes: number
  powerWatts?: number
  /** Per-process GPU memory, where nvidia-smi reports processes (used to attribute a shared GPU). */
  processes?: Array<{ pid: number; usedBytes: number; namespace?: string; workload?: string }>
}

/** Who held (part of) a device over a time range: the join key of telemetry to allocations. */
export interface AllocationInterval {
  node: string
  device: string
  /** The GPU model of the physical GPU (productName attribute), for per-model views and prices. */
  gpuModel: string
  namespace: string
  /** Workload name (its namespace is `namespace`). */
  workload: string
  /** The fraction of the physical GPU this holder held (1 for a whole GPU, 3/7 for a 3g MIG device, 20/80 for a 20 GB vGPU or memory share). */
  share: number
  /** UUID of the physical GPU (the device's parentUUID attribute, else its uuid): a sample of the physical GPU (its `uuid`) joins the holders of its MIG devices and vGPUs this way. */
  gpuUuid?: string
  /** The device is a part of a GPU (a MIG device or a vGPU) sampled on its own: a sample of this very device measures the part, so its holder used smUtil × share of the GPU. */
  partition?: boolean
  from: number
  /** Absent while still held. */
  to?: number
}

/** The intervals one pass of the allocation-interval tracker opens and closes (TelemetryStore.applyIntervals). */
export interface IntervalChanges {
  open: readonly AllocationInterval[]
  close: ReadonlyArray<{ key: { node: string; device: string; namespace: string; workload: string }; to: number }>
}

/** A sample with the holder it is charged to (one sample can split into several for a shared device). */
export interface AttributedSample extends UtilizationSample {
  gpuModel?: string
  namespace?: string
  workload?: string
  /** Fraction of the physical GPU this holder held at the sample's time (0 when unallocated). */
  share: number
  /** The holder's portion of the device's use, percent of the whole GPU (smUtil split by process memory or by share). */
  usedPercent: number
}

/** Which samples or usage rows a query covers. */
export interface TelemetryQuery {
  from: number
  to: number
  node?: string
  namespace?: string
  workload?: string
}

/** Use of one device by one holder over [start, end): the unit chargeback and charts add up, whatever the resolution it came from (raw samples, minute or hour rollups). */
export interface UsageRow {
  start: number
  end: number
  node: string
  device: string
  gpuModel?: string
  /** Absent: the device was not allocated (its use counts as nobody's). */
  namespace?: string
  workload?: string
  /** Fraction of the physical GPU held. */
  share: number
  /** Average of the holder's usedPercent over the row (percent of the whole GPU). */
  usedPercent: number
  /** Average SM utilization of the device over the row. */
  smUtil: number
  memUsedBytes: number
  samples: number
}

/** One holder's use summed over a query's range (namespace and workload absent: unallocated use, nobody's). */
export interface HolderUsage {
  namespace?: string
  workload?: string
  /** Σ over its usage rows of the time the holder held the device within the row × usedPercent / 100, in GPU-milliseconds (chargeback's used GPU-hours × 3,600,000). */
  usedGpuMs: number
  samples: number
}

/** Use of one GPU model over one row span [start, end) (a minute or an hour, clipped to the range), all holders and unallocated use together: the cluster view's input. */
export interface UsageSpan {
  gpuModel: string
  start: number
  end: number
  usedGpuMs: number
}

/**
 * What chargeback needs of the usage rows of a range, summed (src/telemetry/usage-totals.ts says
 * how; TelemetryStore.usageTotals adds them up in SQL): a month of hourly rows for 1,000 GPUs
 * (720,000 rows) becomes about a thousand holders and a few thousand spans.
 */
export interface UsageTotals {
  from: number
  to: number
  /** Sorted by namespace, workload (unallocated first). */
  holders: HolderUsage[]
  /** Sorted by GPU model, start, end. */
  spans: UsageSpan[]
  /** Distinct devices (node + device) per GPU model named by the rows: the cluster view's capacity where none is given. */
  devices: Record<string, number>
}

/**
 * Where telemetry lives (SQLite or PostgreSQL beside the objects; implementations in
 * src/store/sqlite/telemetry.ts and src/store/postgres/telemetry.ts).
 */
export interface TelemetryStore {
  /** Stores attributed samples; one already stored (same node, device, time, namespace, workload) is ignored, so an agent's retry adds nothing. Returns how many were new. */
  appendSamples(samples: readonly AttributedSample[]): Promise<number>
  /**
   * One agent batch, exactly once: records `seq` as the agent's last and appends the samples in one
   * transaction; a batch whose seq is not above the last recorded for `agentId` (a retry after a
   * lost response) writes nothing and says `duplicate`. Agents send their batches in seq order.
   */
  appendBatch(source: { agentId: string; seq: number }, samples: readonly AttributedSample[]): Promise<{ added: number; duplicate: boolean }>
  /** Full-resolution samples still kept, oldest first. */
  samples(query: TelemetryQuery): Promise<AttributedSample[]>
  /** Use per device and holder over the range, from raw samples where kept and rollups before. */
  usage(query: TelemetryQuery): Promise<UsageRow[]>
  /**
   * usage() summed as usageTotalsOf(usage(query), intervals(query), query.from, query.to) would sum
   * it (equal up to floating-point rounding), without reading the rows out of the database. Both
   * stores implement it; optional so that a stand-in (the server's "no telemetry" store) need not.
   */
  usageTotals?(query: TelemetryQuery): Promise<UsageTotals>
  /** Rolls raw samples older than `rawBefore` into minute rows, minute rows older than `minutesBefore` into hour rows, and deletes what was rolled up. */
  rollUp(rawBefore: number, minutesBefore: number): Promise<void>
  /** Records that a holder started holding a device (idempotent: an open interval with the same key is kept). */
  openInterval(interval: AllocationInterval): Promise<void>
  /** Ends the open interval of this holder on this device at `to` (no-op when none is open). */
  closeInterval(key: { node: string; device: string; namespace: string; workload: string }, to: number): Promise<void>
  /**
   * One tracker pass in one transaction: every `close` as closeInterval, then every `open` as
   * openInterval (so a holding closed and opened again in one pass gets its new interval). Both
   * stores implement it; optional for stand-ins (the tracker then makes the single calls).
   */
  applyIntervals?(changes: IntervalChanges): Promise<void>
  /** Intervals overlapping [from, to). */
  intervals(query: TelemetryQuery): Promise<AllocationInterval[]>
}
