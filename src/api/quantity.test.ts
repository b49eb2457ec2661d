// Tests for Quantity: upstream apimachinery's test tables re-expressed, facts observed from upstream, and properties.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Quantity, QUANTITY_PATTERN, type QuantityFormat } from './quantity.ts'
import { GpuplaneError } from '../common/errors.ts'

const q = (s: string): Quantity => Quantity.parse(s)
const sc = (u: bigint, e: number, f: QuantityFormat = 'DecimalSI'): Quantity => Quantity.fromScaled(u, e, f)
const MAX = (1n << 63n) - 1n
const MIN = -(1n << 63n)
const floatBits = (x: number): string => {
  const v = new DataView(new ArrayBuffer(8))
  v.setFloat64(0, x)
  return v.getBigUint64(0).toString(16)
}

function assertSameValue(got: Quantity, want: Quantity, what: string): void {
  assert.equal(got.cmp(want), 0, `${what}: got ${got.canonical()}, want ${want.canonical()}`)
}

// [input, unscaled, exponent, format]: the value each input parses to (upstream TestQuantityParse).
const PARSE_TABLE: [string, bigint, number, QuantityFormat][] = [
  ['0', 0n, 0, 'DecimalSI'],
  ['0n', 0n, 0, 'DecimalSI'],
  ['0u', 0n, 0, 'DecimalSI'],
  ['0m', 0n, 0, 'DecimalSI'],
  ['0Ki', 0n, 0, 'BinarySI'],
  ['0k', 0n, 0, 'DecimalSI'],
  ['0Mi', 0n, 0, 'BinarySI'],
  ['0M', 0n, 0, 'DecimalSI'],
  ['0Gi', 0n, 0, 'BinarySI'],
  ['0G', 0n, 0, 'DecimalSI'],
  ['0Ti', 0n, 0, 'BinarySI'],
  ['0T', 0n, 0, 'DecimalSI'],
  ['1', 1n, 0, 'DecimalSI'],
  ['1Ki', 1024n, 0, 'BinarySI'],
  ['8Ki', 8n * 1024n, 0, 'BinarySI'],
  ['7Mi', 7n << 20n, 0, 'BinarySI'],
  ['6Gi', 6n << 30n, 0, 'BinarySI'],
  ['5Ti', 5n << 40n, 0, 'BinarySI'],
  ['4Pi', 4n << 50n, 0, 'BinarySI'],
  ['3Ei', 3n << 60n, 0, 'BinarySI'],
  ['10Ti', 10n << 40n, 0, 'BinarySI'],
  ['100Ti', 100n << 40n, 0, 'BinarySI'],
  ['5n', 5n, -9, 'DecimalSI'],
  ['4u', 4n, -6, 'DecimalSI'],
  ['3m', 3n, -3, 'DecimalSI'],
  ['9', 9n, 0, 'DecimalSI'],
  ['8k', 8n, 3, 'DecimalSI'],
  ['50k', 5n, 4, 'DecimalSI'],
  ['7M', 7n, 6, 'DecimalSI'],
  ['6G', 6n, 9, 'DecimalSI'],
  ['5T', 5n, 12, 'DecimalSI'],
  ['40T', 4n, 13, 'DecimalSI'],
  ['300T', 3n, 14, 'DecimalSI'],
  ['2P', 2n, 15, 'DecimalSI'],
  ['1E', 1n, 18, 'DecimalSI'],
  ['1E-3', 1n, -3, 'DecimalExponent'],
  ['1e3', 1n, 3, 'DecimalExponent'],
  ['1E6', 1n, 6, 'DecimalExponent'],
  ['1e9', 1n, 9, 'DecimalExponent'],
  ['1E12', 1n, 12, 'DecimalExponent'],
  ['1e15', 1n, 15, 'DecimalExponent'],
  ['1E18', 1n, 18, 'DecimalExponent'],
  ['1e14', 1n, 14, 'DecimalExponent'],
  ['1e13', 1n, 13, 'DecimalExponent'],
  ['100.035k', 100035n, 0, 'DecimalSI'],
  ['0.001', 1n, -3, 'DecimalSI'],
  ['0.0005k', 5n, -1, 'DecimalSI'],
  ['0.005', 5n, -3, 'DecimalSI'],
  ['0.05', 5n, -2, 'DecimalSI'],
  ['0.5', 5n, -1, 'DecimalSI'],
  ['0.00050k', 5n, -1, 'DecimalSI'],
  ['0.00500', 5n, -3, 'DecimalSI'],
  ['0.05000', 5n, -2, 'DecimalSI'],
  ['0.50000', 5n, -1, 'DecimalSI'],
  ['0.5e0', 5n, -1, 'DecimalExponent'],
  ['0.5e-1', 5n, -2, 'DecimalExponent'],
  ['0.5e-2', 5n, -3, 'DecimalExponent'],
  ['10.035M', 10035n, 3, 'DecimalSI'],
  ['1.2e3', 12n, 2, 'DecimalExponent'],
  ['1.3E+6', 13n, 5, 'DecimalExponent'],
  ['1.40e9', 14n, 8, 'DecimalExponent'],
  ['1.53E12', 153n, 10, 'DecimalExponent'],
  ['1.6e15', 16n, 14, 'DecimalExponent'],
  ['1.7E18', 17n, 17, 'DecimalExponent'],
  ['9.01', 901n, -2, 'DecimalSI'],
  ['8.1k', 81n, 2, 'DecimalSI'],
  ['7.123456M', 7123456n, 0, 'DecimalSI'],
  ['6.987654321G', 6987654321n, 0, 'DecimalSI'],
  ['5.444T', 5444n, 9, 'DecimalSI'],
  ['40.1T', 401n, 11, 'DecimalSI'],
  ['300.2T', 3002n, 11, 'DecimalSI'],
  ['2.5P', 25n, 14, 'DecimalSI'],
  ['1.01E', 101n, 16, 'DecimalSI'],
  // finer than nano rounds away from zero; BinarySI saturates at MaxInt64
  ['3.001n', 4n, -9, 'DecimalSI'],
  ['1.1E-9', 2n, -9, 'DecimalExponent'],
  ['0.0000000001', 1n, -9, 'DecimalSI'],
  ['0.0000000005', 1n, -9, 'DecimalSI'],
  ['0.00000000050', 1n, -9, 'DecimalSI'],
  ['0.5e-9', 1n, -9, 'DecimalExponent'],
  ['0.9n', 1n, -9, 'DecimalSI'],
  ['0.00000012345', 124n, -9, 'DecimalSI'],
  ['0.00000012354', 124n, -9, 'DecimalSI'],
  ['9Ei', MAX, 0, 'BinarySI'],
  ['9223372036854775807Ki', MAX, 0, 'BinarySI'],
  ['12E', 12n, 18, 'DecimalSI'],
  ['100.035Ki', 10243584n, -2, 'BinarySI'],
  ['0.5Mi', 512n * 1024n, 0, 'BinarySI'],
  ['0.05Gi', 536870912n, -1, 'BinarySI'],
  ['0.025Ti', 274877906944n, -1, 'BinarySI'],
  // odd but accepted, as upstream
  ['0.000000000001Ki', 2n, -9, 'DecimalSI'],
  ['.001', 1n, -3, 'DecimalSI'],
  ['.0001k', 100n, -3, 'DecimalSI'],
  ['1.', 1n, 0, 'DecimalSI'],
  ['1.G', 1n, 9, 'DecimalSI'],
]

test('parse: upstream table, with explicit "+" and negated', () => {
  for (const [input, u, e, format] of PARSE_TABLE) {
    for (const [text, sign] of [[input, 1n], ['+' + input, 1n], ['-' + input, -1n]] as const) {
      const got = q(text)
      assertSameValue(got, sc(u * sign, e), text)
      assert.equal(got.format, format, `${text} format`)
    }
  }
})

test('parse: rejects what upstream rejects', () => {
  const invalid = [
    '', '1.1.M', '1+1.0M', '0.1mi', '0.1am', 'aoeu', '.5i', '1i', '-3.01i', '-3.01e-', ' 1', '1 ', '1\n',
    'Three', 'i', '200K', '1,3G', '1KiB', '1e', '1e+', '1ee3', '1Mi3', '1e3.5', '1e99999999999999999999', '--1', '+-1',
    // upstream's decimal parser needs a digit, which only its slow path (large binary suffixes) asks for
    '.Pi', '-.Ei',
  ]
  for (const s of invalid) {
    assert.equal(Quantity.tryParse(s), undefined, JSON.stringify(s))
    assert.throws(() => q(s), (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT', JSON.stringify(s))
  }
})

test('parse: error says what is wrong and what a quantity looks like', () => {
  try {
    Quantity.parse('12 GiB', 'spec.devices[0].capacity.memory')
    assert.fail('should throw')
  } catch (e) {
    assert.ok(e instanceof GpuplaneError)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.equal(e.location.path, 'spec.devices[0].capacity.memory')
    assert.match(e.message, /"12 GiB"/)
    assert.ok(e.message.includes(QUANTITY_PATTERN))
    assert.match(e.message, /1\.5Gi/)
  }
  assert.throws(() => q('4K'), /suffix "K"/)
  assert.throws(() => q(''), /empty/)
})

test('parse: odd inputs upstream accepts', () => {
  // a missing number reads as 0, so even a bare suffix parses (CEL's docs say quantity('Mi') errors; it does not)
  for (const s of ['.', '-', '+', '-.', '00', '-0', '+0', '0.0', '.Ti', '0.Pi', '+.Ki', 'Mi', '-Ki', 'm', 'e3']) {
    assert.ok(q(s).isZero(), s)
  }
  assert.equal(q('Mi').format, 'BinarySI')
  assert.equal(q('.Ti').format, 'BinarySI')
  // exponents are read as int64 then truncated to int32, so this is 1e0
  assertSameValue(q('1e4294967296'), sc(1n, 0), 'int32 wrap')
  assert.equal(q('1e4294967296').value(), 1n)
})

test('parse: cache returns the same immutable object and stays bounded in effect', () => {
  assert.equal(Quantity.parse('1Gi'), Quantity.parse('1Gi'))
  for (let i = 0; i < 10_000; i++) Quantity.parse(`${i}m`)
  assert.equal(q('1500m').toString(), '1500m')
})

// [value, format, String(), a non-canonical spelling of the same value] (upstream TestQuantityString)
const STRING_TABLE: [Quantity, string, string][] = [
  [sc(1024n * 1024n * 1024n, 0, 'BinarySI'), '1Gi', '1024Mi'],
  [sc(300n * 1024n * 1024n, 0, 'BinarySI'), '300Mi', '307200Ki'],
  [sc(6n * 1024n, 0, 'BinarySI'), '6Ki', ''],
  [sc(1001n * 1024n * 1024n * 1024n, 0, 'BinarySI'), '1001Gi', '1025024Mi'],
  [sc(1024n * 1024n * 1024n * 1024n, 0, 'BinarySI'), '1Ti', '1024Gi'],
  [sc(5n, 0, 'BinarySI'), '5', '5000m'],
  [sc(500n, -3, 'BinarySI'), '500m', '0.5'],
  [sc(1n, 9), '1G', '1000M'],
  [sc(1000n, 6), '1G', '0.001T'],
  [sc(1000000n, 3), '1G', ''],
  [sc(1000000000n, 0), '1G', ''],
  [sc(1n, -3), '1m', '1000u'],
  [sc(80n, -3), '80m', ''],
  [sc(1080n, -3), '1080m', '1.08'],
  [sc(108n, -2), '1080m', '1080000000n'],
  [sc(10800n, -4), '1080m', ''],
  [sc(300n, 6), '300M', ''],
  [sc(1n, 12), '1T', ''],
  [sc(1234567n, 6), '1234567M', ''],
  [sc(1234567n, -3, 'BinarySI'), '1234567m', ''],
  [sc(3n, 3), '3k', ''],
  [sc(1025n, 0, 'BinarySI'), '1025', ''],
  [sc(0n, 0), '0', ''],
  [sc(0n, 0, 'BinarySI'), '0', ''],
  [sc(1n, 9, 'DecimalExponent'), '1e9', '.001e12'],
  [sc(1n, -3, 'DecimalExponent'), '1e-3', '0.001e0'],
  [sc(1n, -9, 'DecimalExponent'), '1e-9', '1000e-12'],
  [sc(80n, -3, 'DecimalExponent'), '80e-3', ''],
  [sc(300n, 6, 'DecimalExponent'), '300e6', ''],
  [sc(1n, 12, 'DecimalExponent'), '1e12', ''],
  [sc(1n, 3, 'DecimalExponent'), '1e3', ''],
  [sc(3n, 3, 'DecimalExponent'), '3e3', ''],
  [sc(0n, 0, 'DecimalExponent'), '0', '00'],
  [sc(1n, -9), '1n', ''],
  [sc(80n, -9), '80n', ''],
  [sc(1080n, -9), '1080n', ''],
  [sc(108n, -8), '1080n', ''],
  [sc(10800n, -10), '1080n', ''],
  [sc(1n, -6), '1u', ''],
  [sc(80n, -6), '80u', ''],
  [sc(1080n, -6), '1080u', ''],
]

test('toString: canonical forms (upstream TestQuantityString)', () => {
  for (const [value, want, alternate] of STRING_TABLE) {
    assert.equal(value.toString(), want)
    assert.equal(value.toJSON(), want)
    assert.equal(q(want).toString(), want, `parse(${want})`)
    if (alternate) assert.equal(q(alternate).toString(), want, `parse(${alternate})`)
    if (!value.isZero()) assert.equal(value.neg().toString(), '-' + want)
  }
})

test('toString: parse then emit (upstream TestQuantityParseEmit and brief examples)', () => {
  const table: [string, string][] = [
    ['1Ki', '1Ki'], ['1Mi', '1Mi'], ['1Gi', '1Gi'], ['1024Mi', '1Gi'], ['1000M', '1G'],
    ['.001Ki', '1024m'], ['.000001Ki', '1024u'], ['.000000001Ki', '1024n'], ['.000000000001Ki', '2n'],
    ['1.5Gi', '1536Mi'], ['1000m', '1'], ['0.1', '100m'], ['1e3', '1e3'], ['12e6', '12e6'], ['1.5', '1500m'],
    ['1024', '1024'], ['1024Ki', '1Mi'], ['1536Ki', '1536Ki'], ['0.5Ki', '512'], ['1.5Ki', '1536'], ['1.1Ki', '1126400m'],
    ['10000k', '10M'], ['1100k', '1100k'], ['0.2G', '200M'], ['1e-3', '1e-3'], ['1000e-3', '1'], ['1e0', '1e0'],
  ]
  for (const [input, want] of table) {
    assert.equal(q(input).toString(), want, input)
    if (!q(input).isZero()) assert.equal(q('-' + input).toString(), '-' + want, '-' + input)
  }
})

test('toString: upstream reuses input text it judged canonical; canonical() does not', () => {
  const kept: [string, string][] = [
    ['+1', '1'], ['01', '1'], ['1E3', '1e3'], ['1e+3', '1e3'], ['1e03', '1e3'], ['1.500k', '1500'], ['+6.', '6'],
    ['37.Ki', '37Ki'], ['+087Ti', '87Ti'], ['1e4294967296', '1'],
  ]
  for (const [input, canonical] of kept) {
    assert.equal(q(input).toString(), input)
    assert.equal(q(input).canonical(), canonical)
    // any arithmetic forgets the text, as upstream clears it
    assert.equal(q(input).add(q('0')).toString(), canonical)
  }
  // binary text is kept only when the number is not a multiple of 8, decimal only without a 000 tail
  assert.equal(q('8Ki').toString(), '8Ki')
  assert.equal(q('1024Ki').toString(), '1Mi')
  assert.equal(q('1000').toString(), '1k')
})

test('toString: upstream drops suffixes it has no name for (DecimalSI above E, BinarySI above Ei)', () => {
  assert.equal(q('1000E').toString(), '1')
  assert.equal(q('1000E').value(), 10n ** 21n)
  assert.equal(q('1Ei').mul(1024n).toString(), '1')
  assert.equal(q('1000E').canonical(), '1')
  assert.equal(q('1e21').toString(), '1e21')
})

test('toString: BinarySI falls back to DecimalSI below 1024 in magnitude and for fractions', () => {
  assert.equal(Quantity.fromMilli(1024n, 'BinarySI').toString(), '1024m')
  assert.equal(Quantity.fromMilli(1024n * 1024n, 'BinarySI').toString(), '1048576m')
  assert.equal(Quantity.fromBigInt(1023n, 'BinarySI').toString(), '1023')
  assert.equal(Quantity.fromBigInt(-1024n, 'BinarySI').toString(), '-1Ki')
  assert.equal(q('2Ki').sub(q('1m')).toString(), '2047999m')
  assert.equal(q('-1.4000Mi').toString(), '-1468006400m')
})

test('constructors (upstream TestNewSet, TestMilliNewSet, TestNewScaledSet)', () => {
  const ints: [bigint, QuantityFormat, string][] = [
    [1n, 'DecimalSI', '1'], [1000n, 'DecimalSI', '1k'], [1234000n, 'DecimalSI', '1234k'], [1024n, 'BinarySI', '1Ki'],
    [1000000n, 'DecimalExponent', '1e6'], [1024n * 1024n, 'BinarySI', '1Mi'],
  ]
  for (const [n, f, want] of ints) {
    assert.equal(Quantity.fromBigInt(n, f).toString(), want)
    assert.equal(q(want).value(), n)
  }
  const millis: [bigint, QuantityFormat, string][] = [
    [1n, 'DecimalSI', '1m'], [1000n, 'DecimalSI', '1'], [1234000n, 'DecimalSI', '1234'], [1000000n, 'DecimalExponent', '1e3'],
  ]
  for (const [n, f, want] of millis) {
    assert.equal(Quantity.fromMilli(n, f).toString(), want)
    assert.equal(q(want).milliValue(), n)
  }
  const scaled: [bigint, number, string][] = [
    [1n, -9, '1n'], [1000n, -9, '1u'], [1n, -6, '1u'], [1000n, -6, '1m'], [1n, -3, '1m'], [1000n, -3, '1'],
    [1n, 0, '1'], [0n, -9, '0'], [0n, -6, '0'], [0n, -3, '0'], [0n, 0, '0'],
  ]
  for (const [n, s, want] of scaled) {
    assert.equal(sc(n, s).toString(), want)
    assert.equal(q(want).scaledValue(s), n)
  }
  assert.equal(Quantity.fromBigInt(10n ** 30n + 1n).toString(), '1000000000000000000000000000001')
  assert.equal(Quantity.fromBigInt(10n ** 30n, 'DecimalExponent').toString(), '1e30')
  assert.equal(Quantity.ZERO.toString(), '0')
})

test('scaledValue, value and milliValue round away from zero (upstream TestScaledValue)', () => {
  const table: [number, number, bigint][] = [
    [-9, -9, 1n], [-9, -6, 1n], [-9, -3, 1n], [-9, 0, 1n], [-6, -9, 1000n], [-6, -6, 1n], [-6, -3, 1n], [-6, 0, 1n],
    [-3, -9, 1000000n], [-3, -6, 1000n], [-3, -3, 1n], [-3, 0, 1n], [0, -9, 1000000000n], [0, -6, 1000000n],
    [0, -3, 1000n], [0, 0, 1n], [2, -2, 10000n],
  ]
  for (const [from, to, want] of table) assert.equal(sc(1n, from).scaledValue(to), want, `${from}->${to}`)
  assert.equal(q('9.01').value(), 10n)
  assert.equal(q('-9.01').value(), -10n)
  assert.equal(q('1n').milliValue(), 1n)
  assert.equal(q('-1n').milliValue(), -1n)
  assert.equal(q('1.5Gi').value(), 1610612736n)
  assert.equal(q('1.5Gi').milliValue(), 1610612736000n)
  assert.equal(q('100m').value(), 1n)
  assert.equal(q('0').value(), 0n)
  // exact beyond int64, where upstream's int64 result overflows
  assert.equal(q('10E').value(), 10n ** 19n)
  assert.equal(q('9Ei').milliValue(), MAX * 1000n)
})

test('asInt64 and isInteger depend on representation exactly as upstream (CEL isInteger/asInteger)', () => {
  const table: [string, bigint | undefined][] = [
    ['1', 1n], ['50k', 50000n], ['50000000G', 50000000000000000n], ['1E', 10n ** 18n], ['-1E', -(10n ** 18n)],
    ['1.0E', 10n ** 18n], ['999999999999999999', 999999999999999999n], ['-999999999999999999', -999999999999999999n],
    ['1Ti', 1n << 40n], ['0e400', 0n], ['0', 0n],
    // whole numbers that upstream holds at a negative scale or as a decimal: not integers for CEL
    ['1000m', undefined], ['0.0', undefined], ['1Pi', undefined], ['1Ei', undefined], ['0.5Mi', undefined], ['100Ti', undefined],
    ['1000000000000000000', undefined], ['9223372036854775807', undefined], ['999999999999999999.0', undefined],
    ['10E', undefined], ['9999999999999999999999999999999999999G', undefined],
  ]
  for (const [input, want] of table) {
    assert.equal(q(input).asInt64(), want, input)
    assert.equal(q(input).isInteger(), want !== undefined, input)
  }
  assert.equal(q('50k').sub(Quantity.fromBigInt(20000n, 'DecimalExponent')).asInt64(), 30000n)
  assert.equal(q('1').add(q('1m')).isInteger(), false)
  assert.equal(q('1m').mul(1000n).isInteger(), false)
})

test('upstream TestParseQuantity: int64 limits, their String() and asInt64', () => {
  const table: [string, bigint | undefined, string][] = [
    ['-999999999999999999', -999999999999999999n, '-999999999999999999'],
    ['999999999999999999.1', undefined, '999999999999999999100m'],
    ['-9999999999999999999', undefined, '-9999999999999999999'],
    ['-1000000000000000000', undefined, '-1E'],
    ['1000000000000000000.0', undefined, '1E'],
    ['9999999999999999999000m', undefined, '9999999999999999999'],
    ['-1.0000000000000000001E', undefined, '-1000000000000000000100m'],
    ['1.000000000000000001E', undefined, '1000000000000000001'],
    ['-10E', undefined, '-10E'],
    ['10000000000000000000', undefined, '10E'],
    ['10000000000000000000000m', undefined, '10E'],
    ['10.0000000000000000001E', undefined, '10000000000000000000100m'],
    ['-9223372036854775809.0', undefined, '-9223372036854775809'],
    ['-9223372036854775808', undefined, '-9223372036854775808'],
    ['9223372036854775807000m', undefined, '9223372036854775807'],
    ['9223372036854775808.1', undefined, '9223372036854775808100m'],
  ]
  for (const [input, asInt, str] of table) {
    assert.equal(q(input).asInt64(), asInt, input)
    assert.equal(q(input).toString(), str, input)
  }
})

test('cmp (upstream TestQuantityCmp and TestQuantityCmpInt64AndDec)', () => {
  assert.equal(q('0').cmp(q('0')), 0)
  assert.equal(q('100m').cmp(q('50m')), 1)
  assert.equal(q('50m').cmp(q('100m')), -1)
  assert.equal(q('10000T').cmp(q('100Gi')), 1)
  assert.equal(q('200M').cmp(q('0.2G')), 0)
  assert.equal(q('50M').cmp(q('50Mi')), -1)
  assert.equal(q('50Mi').cmp(q('50M')), 1)
  const e18 = 10n ** 18n
  const table: [Quantity, Quantity, number][] = [
    [sc(901n, -2), sc(901n, -2), 0], [sc(90n, -1), sc(901n, -2), -1], [sc(901n, -2), sc(900n, -2), 1],
    [sc(0n, 0), sc(0n, 0), 0], [sc(0n, 1), sc(0n, -1), 0], [sc(0n, -1), sc(0n, 1), 0],
    [sc(800n, -3), sc(1n, 0), -1], [sc(800n, -3), sc(79n, -2), 1],
    [sc(MAX, 0), sc(1n, -1), 1], [sc(MAX, 1), sc(1n, 0), 1], [sc(MAX, 1), sc(1n, 1), 1], [sc(MAX, 1), sc(0n, 1), 1],
    [sc(MAX, -16), sc(1n, 3), -1], [sc(MIN, 0), sc(0n, 0), -1], [sc(MIN, -18), sc(-1n, 0), -1], [sc(MIN, -19), sc(-1n, 0), 1],
    [sc(e18, -17), sc(1n, 1), 0], [sc(e18, -17), sc(-10n, 0), 1], [sc(-e18, -17), sc(-10n, 0), 0], [sc(e18, -17), sc(1n, 0), 1],
    [sc(e18 + 1n, -17), sc(1n, 1), 1], [sc(e18 - 1n, -17), sc(1n, 1), -1],
  ]
  for (const [a, b, want] of table) {
    assert.equal(a.cmp(b), want, `${a.canonical()} vs ${b.canonical()}`)
    assert.equal(b.cmp(a), -want || 0)
    assert.equal(a.equals(b), want === 0)
    assert.equal(a.isGreaterThan(b), want > 0)
    assert.equal(a.isLessThan(b), want < 0)
  }
  // magnitudes far apart compare without materialising 10^2000000000
  assert.equal(q('1e2000000000').cmp(q('9Ei')), 1)
  assert.equal(q('-1e2000000000').cmp(q('1n')), -1)
  assert.equal(q('1e2000000000').cmp(q('10e1999999999')), 0)
  assert.equal(q('2e2000000000').cmp(q('10e1999999999')), 1)
  const sorted = ['1Gi', '1G', '100m', '-1', '0', '1e-3', '1500Mi'].map(q).sort(Quantity.compare).map(String)
  assert.deepEqual(sorted, ['-1', '0', '1e-3', '100m', '1G', '1Gi', '1500Mi'])
})

test('add, sub, mul and neg (upstream TestAdd, TestSub, TestMul, TestNeg)', () => {
  const add: [Quantity, Quantity, Quantity][] = [
    [sc(10n, 0), sc(1n, 1), sc(20n, 0)], [sc(10n, 0), sc(1n, 0, 'BinarySI'), sc(11n, 0)],
    [sc(10n, 0, 'BinarySI'), sc(1n, 0), sc(11n, 0, 'BinarySI')], [Quantity.ZERO, sc(50n, 0), sc(50n, 0)],
    [sc(50n, 0), Quantity.ZERO, sc(50n, 0)], [Quantity.ZERO, Quantity.ZERO, Quantity.ZERO],
  ]
  for (const [a, b, want] of add) {
    assertSameValue(a.add(b), want, 'add')
    assert.equal(a.add(b).format, a.isZero() ? b.format : a.format)
  }
  const sub: [Quantity, Quantity, Quantity][] = [
    [sc(10n, 0), sc(1n, 1), sc(0n, 0)], [sc(10n, 0), sc(1n, 0, 'BinarySI'), sc(9n, 0)],
    [sc(10n, 0, 'BinarySI'), sc(1n, 0), sc(9n, 0, 'BinarySI')], [Quantity.ZERO, sc(50n, 0), sc(-50n, 0)],
    [sc(50n, 0), Quantity.ZERO, sc(50n, 0)], [Quantity.ZERO, Quantity.ZERO, Quantity.ZERO],
  ]
  for (const [a, b, want] of sub) assertSameValue(a.sub(b), want, 'sub')
  const half = MAX / 2n
  const mul: [Quantity, bigint, Quantity][] = [
    [sc(10n, 0), 10n, sc(100n, 0)], [sc(10n, 0), 1n, sc(10n, 0)], [Quantity.ZERO, 50n, Quantity.ZERO], [sc(50n, 0), 0n, Quantity.ZERO],
    [sc(10n, 0), -10n, sc(-100n, 0)], [sc(-50n, 0), -50n, sc(2500n, 0)], [sc(MAX, 0), 0n, Quantity.ZERO],
    [sc(MAX, 0), -1n, sc(-MAX, 0)], [sc(half, 0), 2n, sc(half * 2n, 0)], [sc(-half, 0), -2n, sc(half * 2n, 0)],
    [sc(MAX, 0), 2n, sc(MAX * 2n, 0)], [sc(MAX, 0), 10n, sc(MAX, 1)], [sc(MAX, 0), -10n, sc(-MAX, 1)],
    [sc(MIN, 0), 1n, sc(MIN, 0)], [sc(MIN, 0), -1n, sc(-MIN, 0)], [sc(MIN / 2n, 0), 2n, sc(MIN, 0)],
    [sc(MIN, 0), 2n, sc(MIN * 2n, 0)], [sc(MIN, 0), -10n, sc(-MIN, 1)], [q('1Ki'), 10n ** 30n, sc(1024n * 10n ** 30n, 0)],
  ]
  for (const [a, n, want] of mul) assertSameValue(a.mul(n), want, `mul ${n}`)
  const negs: [Quantity, Quantity][] = [
    [sc(0n, 0), sc(0n, 0)], [sc(10n, 0, 'BinarySI'), sc(-10n, 0)], [sc(-10n, 0), sc(10n, 0)], [sc(MIN, 0), sc(-MIN, 0)],
  ]
  for (const [a, want] of negs) assertSameValue(a.neg(), want, 'neg')
  assert.equal(sc(901n, -2).neg().toString(), '-9010m')
  assert.equal(q('-5').abs().toString(), '5')
  // upstream keeps the suffix when adding or subtracting zero (TestQuantityAddZeroPreservesSuffix)
  for (const s of ['100m', '1Gi']) {
    assert.equal(q(s).add(q('0')).toString(), s)
    assert.equal(q('0').add(q(s)).toString(), s)
    assert.equal(q(s).sub(q('0')).toString(), s)
    assert.equal(q('0').sub(q(s)).toString(), q(s).neg().toString())
  }
  // CEL examples
  assert.ok(q('50k').add(q('20k')).equals(q('70k')))
  assert.ok(q('50k').add(Quantity.fromBigInt(20n, 'DecimalExponent')).equals(q('50020')))
  assert.ok(q('50k').sub(Quantity.fromBigInt(20000n, 'DecimalExponent')).equals(q('30k')))
  assert.equal(q('50k').sub(Quantity.fromBigInt(20000n)).asApproximateFloat(), 30000)
})

test('arithmetic that would need more than QUANTITY_MAX_DIGITS digits is refused, not hung', () => {
  assert.throws(() => q('1e2000000000').add(q('1')), (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT')
  assert.throws(() => q('1e2000000000').value(), /digits/)
  assert.equal(Quantity.tryParse('1234567890123456789e2000000000'), undefined)
  assert.throws(() => q('1234567890123456789e2000000000'), /digits/)
  assertSameValue(q('1234567890123456789e-2000000000'), sc(1n, -9), 'tiny rounds up to 1n')
  assert.equal(q('1e2000000000').toString(), '100e1999999998')
  assert.equal(q('1e1999999998').toString(), '1e1999999998')
  assert.equal(q('10e1999999999').canonical(), '100e1999999998')
})

test('asApproximateFloat matches upstream bit for bit (TestQuantityAsApproximateFloat64)', () => {
  const m7 = 7n * 1024n * 1024n
  const f7 = 7 * 1024 * 1024
  const table: [Quantity, number][] = [
    [sc(0n, 0), 0], [sc(0n, 0, 'DecimalExponent'), 0], [sc(0n, 0, 'BinarySI'), 0], [sc(1n, 0), 1], [sc(1n, 0, 'BinarySI'), 1],
    [sc(1024n, 0, 'BinarySI'), 1024], [sc(8n * 1024n, 0, 'BinarySI'), 8192], [sc(m7, 0, 'BinarySI'), f7],
    [sc(m7, 1), f7 * 10], [sc(m7, 4), f7 * 10000], [sc(m7, 8), f7 * 100000000], [sc(m7, -1), f7 * 0.1],
    [sc(m7, -8), f7 / 100000000], [sc(MAX, 0), 9223372036854775807], [sc(12n, 18), 1.2e19],
    [sc(12n, 500), Infinity], [sc(-12n, 500), -Infinity],
    [q('2Ki'), 2048], [q('1.1Ki'), 1126.4], [q('1Mi'), 1048576], [q('2Gi'), 2147483648],
  ]
  for (const [value, want] of table) assert.equal(value.asApproximateFloat(), want, value.canonical())
  assert.ok(Number.isNaN(q('0e400').asApproximateFloat()))
  assert.equal(q('0.1').asApproximateFloat(), 0.1)
})

// Observed from upstream's ParseQuantity on generated inputs:
// [input, String(), format, AsInt64 ok, AsApproximateFloat64 bits].
const UPSTREAM_PARSE_FACTS: [string, string, QuantityFormat, boolean, string][] = [
  ['5Ti', '5Ti', 'BinarySI', true, '4294000000000000'],
  ['2094568627397e4294967296', '2094568627397e4294967296', 'DecimalExponent', true, '427e7ae04dcc5000'],
  ['0003.000e-9', '3e-9', 'DecimalExponent', false, '3e29c511dc3a41e0'],
  ['40e-40', '1e-9', 'DecimalExponent', false, '3e112e0be826d695'],
  ['-1.4000Mi', '-1468006400m', 'BinarySI', false, 'c136666666666667'],
  ['1024Ei', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['+75.1318449263000e4294967296', '75131844927e-9', 'DecimalExponent', false, '4052c87025b466f2'],
  ['+6.', '+6.', 'DecimalSI', true, '4018000000000000'],
  ['-556972M', '-556972M', 'DecimalSI', true, 'c26035c3c8600000'],
  ['+00.e19', '0', 'DecimalExponent', true, '0'],
  ['44', '44', 'DecimalSI', true, '4046000000000000'],
  ['0052Ei', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['613.4Ki', '628121600m', 'BinarySI', false, '41232b3333333334'],
  ['2044633407082.9386567192819e18', '2044633407082938656719281900e3', 'DecimalExponent', false, '4639ce911d36c9be'],
  ['2434649038013167e-12', '2434649038014e-9', 'DecimalExponent', false, '40a3054c4eb5e7fc'],
  ['0.0', '0', 'DecimalSI', false, '0'],
  ['37.Ki', '37.Ki', 'BinarySI', true, '40e2800000000000'],
  ['+087Ti', '+087Ti', 'BinarySI', true, '42d5c00000000000'],
  ['+3989913952235232989e-12', '3989913952235233e-9', 'DecimalExponent', false, '414e70ccf9e2d818'],
  ['014648Ki', '14648Ki', 'BinarySI', true, '416c9c0000000000'],
  ['+246001828e-12', '246002e-9', 'DecimalExponent', false, '3f301f3a8b74c659'],
  ['0Pi', '0', 'BinarySI', false, '0'],
  ['01.e0', '01.e0', 'DecimalExponent', true, '3ff0000000000000'],
  ['-2691e0', '-2691e0', 'DecimalExponent', true, 'c0a5060000000000'],
  ['370780n', '370780n', 'DecimalSI', false, '3f384ca7f958c6ec'],
  ['-274n', '-274n', 'DecimalSI', false, 'be926348be7991ab'],
  ['-7827u', '-7827u', 'DecimalSI', false, 'bf80079a2834d26f'],
  ['-015092278.1357290883570017856e18', '-15092278135729088357001785600e-3', 'DecimalExponent', false, 'c528f7d413022207'],
  ['-08m', '-08m', 'DecimalSI', false, 'bf80624dd2f1a9fc'],
  ['86', '86', 'DecimalSI', true, '4055800000000000'],
  ['2246990168358057755Ki', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['+7.073e+6', '+7.073e+6', 'DecimalExponent', true, '415afb3a00000000'],
  ['+0593489129216271171.733120173570615722e-10', '59348912921627118e-9', 'DecimalExponent', false, '418c4cbd875f7e0b'],
  ['+53e0', '+53e0', 'DecimalExponent', true, '404a800000000000'],
  ['0138772813285319765.059082835660387174Mi', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['.9000E', '900P', 'DecimalSI', true, '43a8fae27693b400'],
  ['08904T', '08904T', 'DecimalSI', true, '433fa2240d148000'],
  ['0005075n', '0005075n', 'DecimalSI', false, '3ed5493d60b39eff'],
  ['.9M', '900k', 'DecimalSI', true, '412b774000000000'],
  ['+10e3', '+10e3', 'DecimalExponent', true, '40c3880000000000'],
  ['30.433', '30.433', 'DecimalSI', false, '403e6ed916872b02'],
  ['-477607331136e21', '-477607331136e21', 'DecimalExponent', false, 'c6b78c4084ba98bf'],
  ['010G', '010G', 'DecimalSI', true, '4202a05f20000000'],
  ['016799796007820Gi', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['-53700373511946e-12', '-53700373512e-9', 'DecimalExponent', false, 'c04ad9a5d6d88329'],
  ['8820Ei', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['9271960341.349662007511492854M', '9271960341349662007511493n', 'DecimalSI', false, '434078663f42428f'],
  ['+043810788k', '+043810788k', 'DecimalSI', true, '422466a725400000'],
  ['47e4294967296', '47e4294967296', 'DecimalExponent', true, '4047800000000000'],
  ['.35Ei', '403522526612396441600m', 'BinarySI', false, '4396666666666667'],
  ['4331943.169338022573867151718e60', '4331943169338022573867151718e39', 'DecimalExponent', false, '4dc4912f6d20bdac'],
  ['84n', '84n', 'DecimalSI', false, '3e768c6fa0b2f9a4'],
  ['+606.4e3', '606400', 'DecimalExponent', true, '4122818000000000'],
  ['5', '5', 'DecimalSI', true, '4014000000000000'],
  ['+050e18', '+050e18', 'DecimalExponent', false, '4405af1d78b58c40'],
  ['0.644e+6', '644e3', 'DecimalExponent', true, '4123a74000000000'],
  ['4424986570637052.424847250759000e-40', '1e-9', 'DecimalExponent', false, '3e112e0be826d695'],
  ['1e-10', '1e-9', 'DecimalExponent', false, '3e112e0be826d695'],
  ['003546101', '003546101', 'DecimalSI', true, '414b0dfa80000000'],
  ['+6042040138.2985000e05', '604204013829850', 'DecimalExponent', false, '43012c29acedf6d0'],
  ['91P', '91P', 'DecimalSI', true, '437434c04928f800'],
  ['3143624151227406559E-3', '3143624151227406559e-3', 'DecimalExponent', false, '4326563811aeb81d'],
  ['-5e05', '-500e3', 'DecimalExponent', true, 'c11e848000000000'],
  ['0177.000e+6', '177e6', 'DecimalExponent', true, '41a5199c80000000'],
  ['1359818237444645Ti', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['1e3', '1e3', 'DecimalExponent', true, '408f400000000000'],
  ['87081015.679112421198598957E7', '870810156791124211985990e-9', 'DecimalExponent', false, '4308bffa507faaa3'],
  ['5074m', '5074m', 'DecimalSI', false, '40144bc6a7ef9db2'],
  ['8k', '8k', 'DecimalSI', true, '40bf400000000000'],
  ['0Ti', '0', 'BinarySI', true, '0'],
  ['+.', '0', 'DecimalSI', true, '0'],
  ['-2e05', '-200e3', 'DecimalExponent', true, 'c1086a0000000000'],
  ['1Pi', '1Pi', 'BinarySI', false, '4310000000000000'],
  ['58384T', '58384T', 'DecimalSI', true, '4369ed7e09922000'],
  ['667e+6', '667e+6', 'DecimalExponent', true, '41c3e0ce60000000'],
  ['-2075441382161.715661434224330e4294967296', '-2075441382161715661435e-9', 'DecimalExponent', false, 'c27e339f24311b73'],
  ['+8695.000e3', '8695e3', 'DecimalExponent', true, '4160959b00000000'],
  ['006666e05', '666600e3', 'DecimalExponent', true, '41c3ddc120000000'],
  ['+0e60', '0', 'DecimalExponent', true, '0'],
  ['.1000Gi', '107374182400m', 'BinarySI', false, '419999999999999a'],
  ['505e0', '505e0', 'DecimalExponent', true, '407f900000000000'],
  ['044270464441e+6', '044270464441e+6', 'DecimalExponent', true, '4363a8f817618408'],
  ['8Ei', '9223372036854775807', 'BinarySI', false, '43e0000000000000'],
  ['+44269406G', '+44269406G', 'DecimalSI', true, '4363a8d949618580'],
  ['4Ti', '4Ti', 'BinarySI', true, '4290000000000000'],
  ['34059158.27E', '34059158270P', 'DecimalSI', false, '453c2c4eab62429d'],
  ['-2.455', '-2.455', 'DecimalSI', false, 'c003a3d70a3d70a4'],
  ['000730.3000e21', '730300e18', 'DecimalExponent', false, '44e354b48df418a0'],
  ['.78000E-3', '780e-6', 'DecimalExponent', false, '3f498f1d3ed527e5'],
  ['31e-10', '4e-9', 'DecimalExponent', false, '3e312e0be826d695'],
]

test('parse facts observed from upstream: String(), format, AsInt64 ok, float bits', () => {
  for (const [input, str, format, isInt, bits] of UPSTREAM_PARSE_FACTS) {
    const got = q(input)
    assert.equal(got.toString(), str, input)
    assert.equal(got.format, format, input)
    assert.equal(got.isInteger(), isInt, input)
    assert.equal(floatBits(got.asApproximateFloat()), bits, input)
    assert.ok(q(str).equals(got) || str === '1' || format === 'BinarySI', input)
  }
  for (const input of ['0136.e', '0031e', '682.194389893121065000K', '+879.i', '4882K', '-0010779483586604739.9751829940611443071e', '-6855e', '9613K', '420Mi3', '9609.126K', '1024e-', '-3e+', '6484.18Mi3', '82799810445050946394e', '+808997949311e-', '+000323K', '-998e+', '-29538505282.04854000Mi3', '+1K', '.950K', '+240760946053964296234e-', '-65661111690429i', '+0e', '-7.342000mi', '+165656295852i']) {
    assert.equal(Quantity.tryParse(input), undefined, input)
  }
})

// Observed from upstream: [a, op, b, String() of the result, its format, AsInt64 ok].
const UPSTREAM_OP_FACTS: [string, 'add' | 'sub' | 'mul', string, string, QuantityFormat, boolean][] = [
  ['4632.391846772574106e-9', 'sub', '-276k', '276000000004633e-9', 'DecimalExponent', false],
  ['00.408E-3', 'sub', '56487e60', '-56486999999999999999999999999999999999999999999999999999999999999999592e-6', 'DecimalExponent', false],
  ['555938379608', 'mul', '-9223372036854775808', '-5127626504690782519515638923264', 'DecimalSI', false],
  ['499612233900268T', 'sub', '0', '499612233900268T', 'DecimalSI', false],
  ['9.21176212399n', 'sub', '9e60', '-8999999999999999999999999999999999999999999999999999999999999999999990n', 'DecimalSI', false],
  ['1Gi', 'mul', '-1', '-1Gi', 'BinarySI', true],
  ['048e+6', 'add', '+04396E', '4396000000000048e6', 'DecimalExponent', false],
  ['43u', 'sub', '-47.000T', '47000000000000000043u', 'DecimalSI', false],
  ['6568.66Gi', 'add', '+0035157.442944697112356408619e0', '7053045004793282944698n', 'BinarySI', false],
  ['4392.2000e+6', 'mul', '99049271928', '435044212162161600e3', 'DecimalExponent', false],
  ['-1024M', 'sub', '-3688907722.53581205220973000', '2664907722535812053n', 'DecimalSI', false],
  ['6020326038684307T', 'mul', '-7', '-42142282270790149T', 'DecimalSI', false],
  ['-7410e3', 'add', '008219820812943930575.7000781998319775510', '8219820812936520575700078200e-9', 'DecimalExponent', false],
  ['97Ki', 'add', '-0046.6n', '99327999999953n', 'BinarySI', false],
  ['7.3e-12', 'sub', '71.37', '-71369999999e-9', 'DecimalExponent', false],
  ['8720425E-3', 'sub', '036e18', '-35999999999999991279575e-3', 'DecimalExponent', false],
  ['001', 'sub', '0e3', '1', 'DecimalSI', true],
  ['+8e19', 'sub', '707', '79999999999999999293', 'DecimalExponent', false],
  ['-00023.181152860290812E7', 'add', '-00035Ki', '-231847368602908120e-9', 'DecimalExponent', false],
  ['15.04915537406516225468e+6', 'add', '+000235', '15049390374065163e-9', 'DecimalExponent', false],
  ['+07854537390332924e19', 'add', '+9111e18', '78545373903338351e18', 'DecimalExponent', false],
  ['80.84m', 'add', '-52141811535976590k', '-52141811535976589999919160u', 'DecimalSI', false],
  ['+0008e60', 'sub', '-7Pi', '8000000000000000000000000000000000000000000007881299347898368', 'DecimalExponent', false],
  ['+5e4294967296', 'add', '19232050109752713e18', '19232050109752713000000000000000005', 'DecimalExponent', false],
  ['037.023e-40', 'add', '21.218e-12', '2e-9', 'DecimalExponent', false],
  ['0001300e-9', 'mul', '9223372036854775807', '11990383647911208549100e-9', 'DecimalExponent', false],
  ['0632.42665394787041e21', 'add', '0.24570545138000e19', '632429111002384210e6', 'DecimalExponent', false],
  ['00595E-3', 'mul', '024149', '14368655e-3', 'DecimalExponent', false],
  ['977878496946e-12', 'add', '-00e-9', '977878497e-9', 'DecimalExponent', false],
  ['65T', 'mul', '-9223372036854775808', '-599519182395560427520T', 'DecimalSI', false],
  ['-.146Pi', 'sub', '4.105e0', '-164381386399027209m', 'BinarySI', false],
  ['196Ki', 'sub', '-.', '196Ki', 'BinarySI', true],
  ['-4901e-10', 'mul', '-1', '491e-9', 'DecimalExponent', false],
  ['39e0', 'sub', '+35u', '38999965e-6', 'DecimalExponent', false],
  ['+03u', 'add', '13.716e19', '137160000000000000000000003u', 'DecimalSI', false],
  ['-00085327803875876E-3', 'sub', '455e0', '-85327804330876e-3', 'DecimalExponent', false],
  ['567821E', 'sub', '.509000e+6', '567820999999999999491k', 'DecimalSI', false],
  ['355', 'add', '72E', '72000000000000000355', 'DecimalSI', false],
  ['00227.T', 'add', '+008846', '227000000008846', 'DecimalSI', true],
  ['-225e-9', 'sub', '-5948295P', '5948294999999999999999999999775e-9', 'DecimalExponent', false],
  ['+8546379566.15581439755000', 'sub', '+00G', '8546379566155814398n', 'DecimalSI', false],
  ['-3', 'mul', '-8839734718', '26519204154', 'DecimalSI', true],
  ['+00439e+6', 'mul', '1024', '449536e6', 'DecimalExponent', true],
  ['147.000e60', 'add', '85e19', '147000000000000000000000000000000000000000850e18', 'DecimalExponent', false],
  ['-71E', 'sub', '2.M', '-71000000000002M', 'DecimalSI', false],
]

test('arithmetic facts observed from upstream', () => {
  for (const [a, op, b, str, format, isInt] of UPSTREAM_OP_FACTS) {
    const got = op === 'mul' ? q(a).mul(BigInt(b)) : op === 'add' ? q(a).add(q(b)) : q(a).sub(q(b))
    const what = `${a} ${op} ${b}`
    assert.equal(got.toString(), str, what)
    assert.equal(got.format, format, what)
    assert.equal(got.isInteger(), isInt, what)
  }
})

// Quantity strings that upstream prints without loss (DecimalSI loses its suffix from 1e21 on).
const quantityText = fc
  .tuple(
    fc.constantFrom('', '', '-', '+'),
    fc.stringMatching(/^[0-9]{0,12}$/),
    fc.option(fc.stringMatching(/^[0-9]{0,10}$/)),
    fc.constantFrom('', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'e3', 'e-3', 'E6', 'e-12', 'e0', 'e15'),
  )
  .map(([sign, int, frac, suffix]) => `${sign}${int || '0'}${frac === null ? '' : '.' + frac}${suffix}`)
const LOSSY = q('1000E')
const quantity = quantityText.map(q).filter((x) => x.format !== 'DecimalSI' || x.abs().isLessThan(LOSSY))
const smallInt = fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n })

test('property: parse(toString(q)) equals q and prints the same', () => {
  fc.assert(
    fc.property(quantity, (x) => {
      const again = q(x.toString())
      assert.ok(again.equals(x), `${x.toString()}`)
      assert.equal(again.toString(), x.toString())
      assert.ok(q(x.canonical()).equals(x))
      assert.equal(q(x.canonical()).canonical(), x.canonical())
    }),
  )
})

test('property: cmp is antisymmetric, agrees with sub().sign() and with exact nano values', () => {
  fc.assert(
    fc.property(quantity, quantity, (a, b) => {
      const c = a.cmp(b)
      assert.equal(b.cmp(a), -c || 0)
      assert.equal(a.sub(b).sign(), c)
      const na = a.scaledValue(-9)
      const nb = b.scaledValue(-9)
      assert.equal(c, na < nb ? -1 : na > nb ? 1 : 0)
      assert.equal(a.equals(b), c === 0)
    }),
  )
})

test('property: add and sub are exact inverses; add commutes', () => {
  fc.assert(
    fc.property(quantity, quantity, quantity, (a, b, c) => {
      assert.ok(a.add(b).sub(b).equals(a))
      assert.ok(a.add(b).equals(b.add(a)))
      assert.ok(a.add(b).add(c).equals(a.add(b.add(c))))
      assert.ok(a.add(a.neg()).isZero())
      assert.ok(a.neg().neg().equals(a))
    }),
  )
})

test('property: mul distributes over integer addition', () => {
  fc.assert(
    fc.property(quantity, smallInt, smallInt, (a, n, m) => {
      assert.ok(a.mul(n).add(a.mul(m)).equals(a.mul(n + m)))
      assert.equal(a.mul(n).sign(), (a.sign() * (n > 0n ? 1 : n < 0n ? -1 : 0)) || 0)
    }),
  )
})

test('property: value() rounds away from zero to the nearest integer', () => {
  fc.assert(
    fc.property(quantity, (x) => {
      const v = x.value()
      const lower = Quantity.fromBigInt(v > 0n ? v - 1n : v)
      const upper = Quantity.fromBigInt(v < 0n ? v + 1n : v)
      if (x.sign() >= 0) assert.ok(lower.isLessThan(x) || (v === 0n && x.isZero()), `${x}`)
      if (x.sign() >= 0) assert.ok(!Quantity.fromBigInt(v).isLessThan(x))
      else assert.ok(upper.isGreaterThan(x) && !Quantity.fromBigInt(v).isGreaterThan(x), `${x}`)
      assert.equal(x.milliValue(), x.scaledValue(-3))
    }),
  )
})
