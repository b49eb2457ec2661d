// Selector evaluation for the allocator: CEL results memoised per device and expression.
import { compileSelector, celDeviceView } from '../cel/index.ts'
import { GpuplaneError } from '../common/errors.ts'
import type { DeviceRec } from './snapshot.ts'

/** The outcome of one expression on one device: a boolean, or the runtime error upstream would report. */
export type SelectorResult = boolean | GpuplaneError

/**
 * Evaluates `expression` on a device, memoising the result on the device record so that the
 * same expression is never evaluated twice for one device of a snapshot.
 */
export function evaluateSelector(expression: string, rec: DeviceRec): SelectorResult {
  const memo = rec.matches.get(expression)
  if (memo !== undefined) return memo
  let result: SelectorResult
  try {
    // Stored selectors are not re-estimated, as in upstream's scheduler: the runtime cost limit guards them.
    const program = compileSelector(expression, { enforceEstimatedCost: false })
    rec.celView ??= celDeviceView(rec.device, rec.driver)
    result = program.matches(rec.celView as never)
  } catch (e) {
    result = e instanceof GpuplaneError ? e : new GpuplaneError('SELECTOR_RUNTIME_ERROR', String((e as Error)?.message ?? e))
  }
  rec.matches.set(expression, result)
  return result
}
