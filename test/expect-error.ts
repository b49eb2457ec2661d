// Test helper: run something that must fail with a GpuplaneError, and return that error for further checks.
import assert from 'node:assert/strict'
import { GpuplaneError } from '../src/common/errors.ts'

export function expectGpuplaneError(fn: () => unknown): GpuplaneError {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof GpuplaneError, `expected a GpuplaneError, got ${String(e)}`)
    return e
  }
  assert.fail('expected a GpuplaneError, got none')
}
