// compileSelector/matches behaviour beyond upstream's table: caching, device views, domains,
// has(), cel.bind, result types, limits and the runtime cost budget.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GpuplaneError } from '../common/errors.ts'
import { CelDeviceView, celDeviceView, clearSelectorCache, compileSelector, type DeviceInput } from './index.ts'

const NV = 'gpu.nvidia.com'
const h100: DeviceInput = {
  driver: NV,
  attributes: {
    productName: { string: 'NVIDIA H100 80GB HBM3' },
    type: { string: 'gpu' },
    index: { int: 0n },
    driverVersion: { version: '550.54.15' },
    'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' },
  },
  capacity: { memory: { value: '80Gi' }, multiprocessors: { value: '132' } },
}

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return e instanceof GpuplaneError ? e.code : `not a GpuplaneError: ${String(e)}`
  }
  return undefined
}

test('typical selectors match an H100', () => {
  const yes = [
    `device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'`,
    `device.attributes['gpu.nvidia.com'].type == 'gpu'`,
    `device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('40Gi')) >= 0`,
    `device.capacity['gpu.nvidia.com'].multiprocessors.isGreaterThan(quantity("100"))`,
    `device.attributes['gpu.nvidia.com'].driverVersion.major() >= 550`,
    `device.attributes['gpu.nvidia.com'].driverVersion.isGreaterThan(semver("535.0.0"))`,
    `device.attributes['resource.kubernetes.io'].pcieRoot == 'pci0000:00'`,
    `device.attributes['gpu.nvidia.com'].productName.matches('H100')`,
    `device.attributes['gpu.nvidia.com'].productName.lowerAscii().contains('h100')`,
  ]
  for (const e of yes) assert.equal(compileSelector(e).matches(h100), true, e)
  assert.equal(compileSelector(`device.attributes['gpu.nvidia.com'].type == 'mig'`).matches(h100), false)
})

test('compiling the same text twice returns the same object; errors are cached too', () => {
  clearSelectorCache()
  const a = compileSelector('device.driver == "x"')
  assert.equal(compileSelector('device.driver == "x"'), a)
  assert.notEqual(compileSelector('device.driver == "x"', { enforceEstimatedCost: false }), a)
  let first: unknown
  let second: unknown
  try {
    compileSelector('device.driver ==')
  } catch (e) {
    first = e
  }
  try {
    compileSelector('device.driver ==')
  } catch (e) {
    second = e
  }
  assert.ok(first instanceof GpuplaneError)
  assert.equal(first, second)
})

test('views are built once per input object and reused across selectors', () => {
  const v = celDeviceView(h100)
  assert.ok(v instanceof CelDeviceView)
  assert.equal(celDeviceView(h100), v)
  assert.equal(celDeviceView(h100, 'other.example.com').driver, 'other.example.com')
  const plain = { attributes: h100.attributes }
  assert.equal(celDeviceView(plain, NV).attributes.get(NV)?.get('type'), 'gpu')
  assert.throws(() => celDeviceView(plain as never), /driver/)
})

test('bare attribute names live in the driver domain; the qualified name wins over the bare one', () => {
  const dev: DeviceInput = {
    driver: NV,
    attributes: { model: { string: 'bare' }, 'gpu.nvidia.com/model': { string: 'qualified' }, other: { int: 1n } },
  }
  assert.equal(compileSelector(`device.attributes["gpu.nvidia.com"].model == "qualified"`).matches(dev), true)
  assert.equal(compileSelector(`device.attributes["gpu.nvidia.com"].other == 1`).matches(dev), true)
  assert.equal(compileSelector(`size(device.attributes) == 1 && size(device.attributes["gpu.nvidia.com"]) == 2`).matches(dev), true)
})

test('an unknown domain is an empty map; an unknown id in it is a runtime error', () => {
  assert.equal(compileSelector('size(device.attributes["no.such.domain"]) == 0').matches(h100), true)
  assert.equal(compileSelector('device.capacity["no.such.domain"] == {}').matches(h100), true)
  assert.equal(compileSelector('!("x" in device.attributes["no.such.domain"])').matches(h100), true)
  assert.equal(compileSelector('"no.such.domain" in device.attributes').matches(h100), false)
  assert.equal(compileSelector('cel.bind(a, device.attributes, size(a["no.such.domain"]) == 0)').matches(h100), true)
  assert.equal(compileSelector('device.attributes[?"no.such.domain"].hasValue()').matches(h100), true)
  const sel = compileSelector('device.attributes["gpu.nvidia.com"].noSuchAttr == 1')
  assert.throws(
    () => sel.matches(h100),
    (e: unknown) =>
      e instanceof GpuplaneError &&
      e.code === 'SELECTOR_RUNTIME_ERROR' &&
      e.message.includes('device.attributes[\\"gpu.nvidia.com\\"].noSuchAttr == 1') &&
      /no such key: noSuchAttr/i.test(e.message),
  )
})

test('has() and `in` guard optional attributes', () => {
  assert.equal(compileSelector('has(device.attributes["gpu.nvidia.com"].type)').matches(h100), true)
  assert.equal(compileSelector('has(device.attributes["gpu.nvidia.com"].mig)').matches(h100), false)
  assert.equal(compileSelector('has(device.attributes["x.example.com"].mig)').matches(h100), false)
  assert.equal(
    compileSelector('!has(device.attributes["gpu.nvidia.com"].mig) || device.attributes["gpu.nvidia.com"].mig').matches(h100),
    true,
  )
  assert.equal(compileSelector('has(device.driver)').matches(h100), true)
  assert.equal(code(() => compileSelector('has(device.noSuchField)')), 'SELECTOR_INVALID')
  assert.equal(code(() => compileSelector('has(device)')), 'SELECTOR_INVALID')
})

test('cel.bind names a domain once', () => {
  const sel = compileSelector('cel.bind(nv, device.attributes["gpu.nvidia.com"], nv.type == "gpu" && nv.index == 0)')
  assert.equal(sel.matches(h100), true)
})

test('allowMultipleAllocations is false when absent', () => {
  const sel = compileSelector('device.allowMultipleAllocations')
  assert.equal(sel.matches(h100), false)
  assert.equal(sel.matches({ ...h100, allowMultipleAllocations: true }), true)
})

test('result types: bool and dyn compile, others do not; a dyn that is not bool fails at run time', () => {
  assert.equal(compileSelector('true').outputType, 'bool')
  assert.equal(compileSelector('device.attributes["gpu.nvidia.com"].type').outputType, 'dyn')
  for (const e of ['1', '"s"', 'device.attributes', '[true]', 'quantity("1")', 'device.driver']) {
    assert.throws(() => compileSelector(e), /must evaluate to bool or the unknown type/, e)
  }
  assert.throws(
    () => compileSelector('device.attributes["gpu.nvidia.com"].type').matches(h100),
    (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_RUNTIME_ERROR' && /type string could not be converted to bool/.test(e.message),
  )
})

test('syntax and type errors are SELECTOR_INVALID and name the expression', () => {
  for (const e of ['device.driver ==', 'device.driver == 1', 'device.nope', 'noSuchVar', 'unknownFn(1)', 'quantity(1) == 1', 'device.driver.matches("(")']) {
    assert.throws(
      () => compileSelector(e),
      (err: unknown) => err instanceof GpuplaneError && err.code === 'SELECTOR_INVALID' && err.message.includes(JSON.stringify(e)),
      e,
    )
  }
})

test('expressions longer than 10 KiB are refused', () => {
  const long = `device.driver == "${'x'.repeat(10 * 1024)}"`
  assert.throws(() => compileSelector(long), (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_INVALID' && /too long/.test(e.message))
  const fits = `"${'x'.repeat(10 * 1024 - 20)}" != ""`
  assert.equal(compileSelector(fits).matches(h100), true)
})

test('a device that cannot be presented to CEL fails every evaluation, as upstream', () => {
  const bad: DeviceInput = { driver: NV, attributes: { v: { version: 'not-semver' } } }
  assert.match(celDeviceView(bad).problem ?? '', /attribute v: parse semantic version/)
  assert.throws(() => compileSelector('true').matches(bad), (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_RUNTIME_ERROR')
})

test('estimated cost: ordinary selectors are cheap, unbounded or nested loops are refused', () => {
  assert.ok(compileSelector(`device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'`).estimatedCost < 20)
  assert.ok(compileSelector('device.attributes["gpu.nvidia.com"].all(k, k.startsWith("a"))').estimatedCost < 1000)
  for (const e of [
    'lists.range(2000).all(x, lists.range(1000).all(y, x != y))',
    'lists.range(device.attributes["d"].n).size() > 0',
    'device.attributes["d"].s.split("").all(a, device.attributes["d"].s.split("").all(b, device.attributes["d"].s.split("").all(c, a + b + c != "")))',
  ]) {
    assert.equal(code(() => compileSelector(e)), 'SELECTOR_TOO_COSTLY', e)
  }
})

test('runtime cost limit: charged per iteration, sticky through || and quantifiers', () => {
  const opts = { enforceEstimatedCost: false }
  const costly = [
    'lists.range(2000000).size() > 0',
    'lists.range(1000).all(x, lists.range(1000).all(y, x != y + 1000000))',
    'lists.range(2000).map(x, lists.range(2000).exists(y, y == x)).size() > 0 || true',
    'true && lists.range(1000).exists(x, lists.range(1000).exists(y, x * y < 0))',
  ]
  for (const e of costly) {
    assert.throws(
      () => compileSelector(e, opts).matches(h100),
      (err: unknown) => err instanceof GpuplaneError && err.code === 'SELECTOR_RUNTIME_ERROR' && /actual cost limit exceeded/.test(err.message),
      e,
    )
  }
  // The budget is per evaluation: a moderately expensive selector passes again and again.
  const moderate = compileSelector('lists.range(300).all(x, lists.range(300).all(y, x + y >= 0))', opts)
  for (let i = 0; i < 3; i++) assert.equal(moderate.matches(h100), true)
})

test('runtime cost limit also covers two-variable comprehensions and sortBy', () => {
  const opts = { enforceEstimatedCost: false }
  for (const e of [
    'lists.range(2000).transformList(i, v, lists.range(2000).exists(j, w, w == v + 5000)).size() > 0',
    'lists.range(3000).sortBy(x, lists.range(3000).filter(y, y < x).size()).size() > 0',
  ]) {
    assert.throws(
      () => compileSelector(e, opts).matches(h100),
      (err: unknown) => err instanceof GpuplaneError && /actual cost limit exceeded/.test(err.message),
      e,
    )
    assert.equal(code(() => compileSelector(e)), 'SELECTOR_TOO_COSTLY', e)
  }
})

test('optional chaining on an unknown domain, and orValue/or around it', () => {
  const dev: DeviceInput = { driver: 'other.example.com', attributes: { a: { int: 1n } } }
  for (const e of [
    `device.attributes['gpu.example.com'].?x.orValue('') == ''`,
    `!device.attributes['gpu.example.com'].?x.hasValue()`,
    `device.attributes['other.example.com'].?a.orValue(0) == 1`,
    `device.attributes['gpu.example.com'].?x.or(optional.of(5)).value() == 5`,
  ]) {
    const sel = compileSelector(e)
    assert.ok(sel.estimatedCost > 4 && sel.estimatedCost < 50, `${e}: ${sel.estimatedCost}`)
    assert.equal(sel.matches(dev), true, e)
  }
})
