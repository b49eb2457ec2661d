// The DRA selector environment against the cases of upstream's dynamic-resource-allocation/cel/compile_test.go
// (re-expressed: same expressions, inputs, outcomes and worst-case cost estimates).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Device } from '../api/resource-v1.ts'
import { GpuplaneError } from '../common/errors.ts'
import { CEL_SELECTOR_EXPRESSION_MAX_COST, celDeviceView, compileSelector, type DeviceInput } from './index.ts'

type Attributes = NonNullable<Device['attributes']>
type Capacity = NonNullable<Device['capacity']>

interface Case {
  expression: string
  driver?: string
  attributes?: Attributes
  capacity?: Capacity
  allowMultipleAllocations?: boolean
  compileError?: RegExp
  matchError?: RegExp
  match?: boolean
  cost?: number
}

/** Upstream's maxElementsListTypeEnabled: max(DeviceAttributeMaxValueLength, ResourceSliceMaxAttributeValuesPerDevice). */
const ATTR_MAX = 64
const D = 'dra.example.com'

const cases: Record<string, Case> = {
  true: { expression: 'true', match: true, cost: 0 },
  false: { expression: 'false', match: false, cost: 0 },
  'syntax-error': { expression: '?!', compileError: /Syntax error/ },
  'type-error': { expression: '1', compileError: /must evaluate to bool or the unknown type, not int/ },
  'runtime-error-lookup-identifier': {
    expression: 'device.attributes["no-such-domain"].noSuchAttr.isGreaterThan(quantity("0"))',
    matchError: /no such key: noSuchAttr/i,
    cost: 6,
  },
  'runtime-error-lookup-map': {
    expression: 'device.attributes["no-such-domain"]["noSuchAttr"].isGreaterThan(quantity("0"))',
    matchError: /no such key: noSuchAttr/i,
    cost: 6,
  },
  'domain-check-negative': { expression: '"no-such-domain" in device.attributes', match: false, cost: 3 },
  'domain-check-positive': {
    expression: '"dra.example.com" in device.attributes',
    attributes: { 'dra.example.com/something': { bool: true } },
    match: true,
    cost: 3,
  },
  'empty-driver-name': { expression: 'device.driver == ""', match: true, cost: 2 },
  'real-driver-name': { expression: 'device.driver == "dra.example.com"', driver: D, match: true, cost: 4 },
  'driver-name-qualifier': {
    expression: 'device.attributes["dra.example.com"].name',
    driver: D,
    attributes: { name: { bool: true } },
    match: true,
    cost: 4,
  },
  'driver-name-qualifier-map-lookup': {
    expression: 'device.attributes["dra.example.com"]["name"]',
    driver: D,
    attributes: { name: { bool: true } },
    match: true,
    cost: 4,
  },
  bind: {
    expression: 'cel.bind(dra, device.attributes["dra.example.com"], dra.name)',
    driver: D,
    attributes: { name: { bool: true } },
    match: true,
    cost: 15,
  },
  'qualified-attribute-name': {
    expression: 'device.attributes["other.example.com"].name',
    driver: D,
    attributes: { 'other.example.com/name': { bool: true } },
    match: true,
    cost: 4,
  },
  bool: { expression: 'device.attributes["dra.example.com"].name', driver: D, attributes: { name: { bool: true } }, match: true, cost: 4 },
  int: { expression: 'device.attributes["dra.example.com"].name > 0', driver: D, attributes: { name: { int: 1n } }, match: true, cost: 5 },
  string: {
    expression: 'device.attributes["dra.example.com"].name == "fish"',
    driver: D,
    attributes: { name: { string: 'fish' } },
    match: true,
    cost: 5,
  },
  'macro-exists-on-int': {
    expression: 'device.attributes["dra.example.com"].name.exists(x, x > 0)',
    driver: D,
    attributes: { name: { int: 1n } },
    matchError: /int.*cannot be range of a comprehension/,
    cost: 5 + (3 + 3) * ATTR_MAX,
  },
  'macro-exists-on-bool': {
    expression: 'device.attributes["dra.example.com"].name.exists(x, x == true)',
    driver: D,
    attributes: { name: { bool: true } },
    matchError: /bool.*cannot be range of a comprehension/,
    cost: 5 + (3 + 3) * ATTR_MAX,
  },
  'macro-exists-on-string': {
    expression: 'device.attributes["dra.example.com"].name.exists(x, x == "fish")',
    driver: D,
    attributes: { name: { string: 'fish' } },
    matchError: /string.*cannot be range of a comprehension/,
    cost: 5 + (3 + 3) * ATTR_MAX,
  },
  'macro-exists-on-version': {
    expression: 'device.attributes["dra.example.com"].name.exists(x, x.isGreaterThan(semver("0.0.1")))',
    driver: D,
    attributes: { name: { version: '1.0.0' } },
    matchError: /got 'kubernetes.Semver', expected iterable type/,
    cost: 5 + (3 + 4) * ATTR_MAX,
  },
  'includes-on-bool-scalar-positive': {
    expression: 'device.attributes["dra.example.com"].name.includes(true)',
    driver: D,
    attributes: { name: { bool: true } },
    match: true,
    cost: 4 + 48,
  },
  'includes-on-bool-scalar-negative': {
    expression: 'device.attributes["dra.example.com"].name.includes(true)',
    driver: D,
    attributes: { name: { bool: false } },
    match: false,
    cost: 4 + 48,
  },
  'includes-on-int-scalar-positive': {
    expression: 'device.attributes["dra.example.com"].name.includes(1)',
    driver: D,
    attributes: { name: { int: 1n } },
    match: true,
    cost: 4 + 48,
  },
  'includes-on-int-scalar-negative': {
    expression: 'device.attributes["dra.example.com"].name.includes(1)',
    driver: D,
    attributes: { name: { int: 2n } },
    match: false,
    cost: 4 + 48,
  },
  'includes-on-string-scalar-positive': {
    expression: 'device.attributes["dra.example.com"].name.includes("fish")',
    driver: D,
    attributes: { name: { string: 'fish' } },
    match: true,
    cost: 4 + 48,
  },
  'includes-on-string-scalar-negative': {
    expression: 'device.attributes["dra.example.com"].name.includes("bird")',
    driver: D,
    attributes: { name: { string: 'fish' } },
    match: false,
    cost: 4 + 48,
  },
  'includes-on-semver-scalar-positive': {
    expression: 'device.attributes["dra.example.com"].name.includes(semver("1.0.0"))',
    driver: D,
    attributes: { name: { version: '1.0.0' } },
    match: true,
    cost: 4 + 48 + 1,
  },
  'includes-on-semver-scalar-negative': {
    expression: 'device.attributes["dra.example.com"].name.includes(semver("2.0.0"))',
    driver: D,
    attributes: { name: { version: '1.0.0' } },
    match: false,
    cost: 4 + 48 + 1,
  },
  version: {
    expression: 'device.attributes["dra.example.com"].name.isGreaterThan(semver("0.0.1"))',
    driver: D,
    attributes: { name: { version: '1.0.0' } },
    match: true,
    cost: 6,
  },
  version_v: {
    expression: 'device.attributes["dra.example.com"].name.isGreaterThan(semver("v0.0.1", true)) && isSemver("v1.0.0", true)',
    driver: D,
    attributes: { name: { version: '1.0.0' } },
    match: true,
    cost: 7,
  },
  quantity: {
    expression: 'device.capacity["dra.example.com"].name.isGreaterThan(quantity("1Ki"))',
    driver: D,
    capacity: { name: { value: '1Mi' } },
    match: true,
    cost: 6,
  },
  'check-positive': {
    expression: '"name" in device.capacity["dra.example.com"] && device.capacity["dra.example.com"].name.isGreaterThan(quantity("1Ki"))',
    driver: D,
    capacity: { name: { value: '1Mi' } },
    match: true,
    cost: 10,
  },
  'check-negative': {
    expression: '!("name" in device.capacity["dra.example.com"]) || device.capacity["dra.example.com"].name.isGreaterThan(quantity("1Ki"))',
    match: true,
    cost: 11,
  },
  all: {
    expression: `
device.capacity["dra.example.com"].quantity.isGreaterThan(quantity("1Ki")) &&
device.attributes["dra.example.com"].bool &&
device.attributes["dra.example.com"].int > 0 &&
device.attributes["dra.example.com"].string == "fish" &&
device.attributes["dra.example.com"].version.isGreaterThan(semver("0.0.1")) &&
device.capacity["dra.example.com"]["quantity"].isGreaterThan(quantity("1Ki")) &&
device.attributes["dra.example.com"]["bool"] &&
device.attributes["dra.example.com"]["int"] > 0 &&
device.attributes["dra.example.com"]["string"] == "fish" &&
device.attributes["dra.example.com"]["version"].isGreaterThan(semver("0.0.1"))
`,
    driver: D,
    attributes: { bool: { bool: true }, int: { int: 1n }, string: { string: 'fish' }, version: { version: '1.0.0' } },
    capacity: { quantity: { value: '1Mi' } },
    match: true,
    cost: 52,
  },
  many: {
    expression: 'device.attributes["dra.example.com"].a && device.attributes["dra.example.com"].b && device.attributes["dra.example.com"].c',
    driver: D,
    attributes: { a: { bool: true }, b: { bool: true }, c: { bool: true } },
    match: true,
    cost: 12,
  },
  check_attribute_domains: {
    expression: 'device.attributes.exists_one(x, x == "dra.example.com")',
    driver: D,
    attributes: { services: { string: 'some_example_value' } },
    match: true,
    cost: 164,
  },
  check_attribute_ids: {
    expression: 'device.attributes["dra.example.com"].exists_one(x, x == "services")',
    driver: D,
    attributes: { services: { string: 'some_example_value' } },
    match: true,
    cost: 133,
  },
  split_attribute: {
    expression: 'device.attributes["dra.example.com"].services.split("example").size() >= 2',
    driver: D,
    attributes: { services: { string: 'some_example_value' } },
    match: true,
    cost: 19,
  },
  regexp_attribute: {
    expression: 'device.attributes["dra.example.com"].services.matches("[^a]?sym")',
    driver: D,
    attributes: { services: { string: 'asymetric' } },
    match: true,
    cost: 18,
  },
  check_capacity_domains: {
    expression: 'device.capacity.exists_one(x, x == "dra.example.com")',
    driver: D,
    capacity: { memory: { value: '1Mi' } },
    match: true,
    cost: 164,
  },
  check_capacity_ids: {
    expression: 'device.capacity["dra.example.com"].exists_one(x, x == "memory")',
    driver: D,
    capacity: { memory: { value: '1Mi' } },
    match: true,
    cost: 133,
  },
  allow_multiple_allocations: {
    expression: 'device.allowMultipleAllocations == true',
    allowMultipleAllocations: true,
    driver: D,
    match: true,
    cost: 3,
  },
  allow_multiple_allocations_default: { expression: 'device.allowMultipleAllocations == false', driver: D, match: true, cost: 3 },
  allow_multiple_allocations_false: {
    expression: 'device.allowMultipleAllocations == false',
    allowMultipleAllocations: false,
    driver: D,
    match: true,
    cost: 3,
  },
}

function input(c: Case): DeviceInput {
  return { driver: c.driver ?? '', attributes: c.attributes, capacity: c.capacity, allowMultipleAllocations: c.allowMultipleAllocations }
}

for (const [name, c] of Object.entries(cases)) {
  test(`upstream compile_test: ${name}`, () => {
    if (c.compileError) {
      assert.throws(
        () => compileSelector(c.expression),
        (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_INVALID' && c.compileError!.test(e.message),
      )
      return
    }
    const sel = compileSelector(c.expression)
    if (c.cost !== undefined) assert.equal(sel.estimatedCost, c.cost, 'estimated worst-case cost')
    const view = celDeviceView(input(c))
    if (c.matchError) {
      assert.throws(
        () => sel.matches(view),
        (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_RUNTIME_ERROR' && c.matchError!.test(e.message),
      )
      return
    }
    assert.equal(sel.matches(view), c.match)
    // The plain input (converted on the fly) gives the same answer as the prepared view.
    assert.equal(sel.matches(input(c)), c.match)
  })
}

test('upstream compile_test: expensive nested comprehension is rejected by the estimate and by the runtime limit', () => {
  const l = '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]'
  const expression = `${l}.all(x, ${l}.all(y, ${l}.all(z, ${l}.all(z2, ${l}.all(z3, ${l}.all(z4, ${l}.all(z5, int('1'.find('[0-9]*')) < 100)))))))`
  assert.throws(
    () => compileSelector(expression),
    (e: unknown) =>
      e instanceof GpuplaneError && e.code === 'SELECTOR_TOO_COSTLY' && /exceeds cost limit/.test(e.message) && e.message.includes('85555551'),
  )
  // Stored expressions are not re-estimated upstream: the runtime limit stops them instead.
  const stored = compileSelector(expression, { enforceEstimatedCost: false })
  assert.equal(stored.estimatedCost, 85555551)
  assert.throws(
    () => stored.matches({ driver: D }),
    (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_RUNTIME_ERROR' && /actual cost limit exceeded/.test(e.message),
  )
  assert.ok(CEL_SELECTOR_EXPRESSION_MAX_COST === 1_000_000)
})

test('upstream compile_test: a list result is a runtime error, not a match', () => {
  // Upstream's case uses a list attribute; a computed list shows the same conversion failure.
  const sel = compileSelector('dyn(device.attributes["dra.example.com"].names.split(","))')
  assert.throws(
    () => sel.matches({ driver: D, attributes: { names: { string: 'fish,bird' } } }),
    /CEL result of type list could not be converted to bool/,
  )
})

test('upstream compile_test: includes refuses lists longer than 48 values', () => {
  const ok = compileSelector('device.attributes["dra.example.com"].n.split(",").includes("v47")')
  const long = Array.from({ length: 48 }, (_, i) => `v${i}`).join(',')
  assert.equal(ok.matches({ driver: D, attributes: { n: { string: long } } }), true)
  assert.throws(
    () => ok.matches({ driver: D, attributes: { n: { string: `${long},v48` } } }),
    /'includes' function cannot be applied to lists longer than 48 values/,
  )
  assert.equal(compileSelector('[1, 2, 3].includes(2)').matches({ driver: D }), true)
  assert.equal(compileSelector('[semver("1.0.0")].includes(semver("1.0.0"))').matches({ driver: D }), true)
})
