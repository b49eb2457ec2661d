// Selector evaluation for the allocator: CEL results memoised per device and expression.
import { CelDeviceView, compileSelector } from '../cel/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { DeviceRec } from './snapshot.ts'

/** The outcome of one expression on one device: a boolean, or the error upstream would report. */
export type SelectorResult = boolean | GpuplaneError

/**
 * Evaluates expressions on a device in order, stopping at the first that is not true, and returns
 * the index and result of that one (or -1 and true). Results are memoised on the device record, so
 * one expression is evaluated once per device of a snapshot. The device's CEL view is built only
 * when some result is not memoised yet, and is not kept: a cluster has far more devices than any
 * claim looks at twice, and keeping a view per device would dominate memory.
 */
export function firstFailingSelector(expressions: readonly string[], rec: DeviceRec): [index: number, result: SelectorResult] {
  let view: CelDeviceView | undefined
  for (let i = 0; i < expressions.length; i++) {
    const expression = expressions[i]
    let result = rec.matches?.get(expression)
    if (result === undefined) {
      const d = rec.device
      view ??= new CelDeviceView({ driver: rec.driver, attributes: d.attributes, capacity: d.capacity, allowMultipleAllocations: d.allowMultipleAllocations })
      result = evaluate(expression, view)
      ;(rec.matches ??= new Map()).set(expression, result)
    }
    if (result !== true) return [i, result]
  }
  return [-1, true]
}

function evaluate(expression: string, view: CelDeviceView): SelectorResult {
  try {
    // Stored selectors are not re-estimated, as in upstream's scheduler: the runtime cost limit guards them.
    return compileSelector(expression, { enforceEstimatedCost: false }).matches(view)
  } catch (e) {
    return e instanceof GpuplaneError ? e : new GpuplaneError('SELECTOR_RUNTIME_ERROR', String((e as Error)?.message ?? e))
  }
}
