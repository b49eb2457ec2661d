// Tests for semver: DRA's version-attribute syntax, the CEL semver library's parse/normalize, precedence and printing.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Semver, isValidSemver, SEMVER_REGEXP } from './semver.ts'
import { GpuplaneError } from '../common/errors.ts'

const v = (s: string): Semver => Semver.parse(s)
const U64 = (1n << 64n) - 1n

const VALID = [
  '0.0.0', '1.2.3', '10.20.30', '1.1.2-prerelease+meta', '1.1.2+meta', '1.1.2+meta-valid', '1.0.0-alpha', '1.0.0-beta',
  '1.0.0-alpha.beta', '1.0.0-alpha.beta.1', '1.0.0-alpha.1', '1.0.0-alpha0.valid', '1.0.0-alpha.0valid',
  '1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay', '1.0.0-rc.1+build.1', '2.0.0-rc.1+build.123', '1.2.3-beta',
  '10.2.3-DEV-SNAPSHOT', '1.2.3-SNAPSHOT-123', '2.0.0+build.1848', '2.0.1-alpha.1227', '1.0.0-0A.is.legal', '1.0.0--',
  '1.0.0-0', '1.0.0-x-y-z.--', '1.0.0+0.build.1-rc.10000aaa-kk-0.1', '1.0.0+001', '1.2.3----RC-SNAPSHOT.12.9.1--.12+788',
  '18446744073709551615.18446744073709551615.18446744073709551615', '0.0.4', '1.0.0-01a',
]

const INVALID = [
  '', '1', '1.2', '1.2.3.4', 'v1.2.3', 'V1.2.3', '01.1.1', '1.01.1', '1.1.01', '1.2.3-0123', '1.2.3-0123.0123', '1.2-SNAPSHOT',
  '1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788', '1.2.3-', '1.2.3+', '1.2.3-+', '1.2.3-+123', '+invalid', '-invalid',
  '-invalid+invalid', '-invalid.01', 'alpha', 'alpha.beta', 'alpha.1', '1.0.0-alpha_beta', '1.0.0-alpha..', '1.0.0-alpha..1',
  '1.0.0+.', '1.0.0-rc.1+build..1', '1.2.3.DEV', '1.2.3-0123', '1.0.0-é', ' 1.0.0', '1.0.0 ', '1.0.0\n', '1.0.0+a+b',
  '-1.0.0', '1.-1.0', 'a.b.c', '1.2.3-beta!', '200K', 'Three', 'Mi',
]

test('isValidSemver accepts semver.org 2.0.0 and nothing else', () => {
  for (const s of VALID) assert.ok(isValidSemver(s), s)
  for (const s of INVALID) assert.equal(isValidSemver(s), false, JSON.stringify(s))
  // the DRA grammar has no size limit on numbers; blang (CEL) does
  assert.ok(isValidSemver('99999999999999999999.0.0'))
  assert.ok(isValidSemver('1.0.0-99999999999999999999'))
  assert.ok(SEMVER_REGEXP.test('1.0.0'))
})

test('parse accepts exactly what blang/semver Parse accepts and prints it back unchanged', () => {
  for (const s of VALID) {
    const parsed = v(s)
    assert.equal(parsed.toString(), s)
    assert.equal(parsed.toJSON(), s)
    assert.ok(Semver.isSemver(s))
  }
  for (const s of INVALID) {
    assert.equal(Semver.tryParse(s), undefined, JSON.stringify(s))
    assert.equal(Semver.isSemver(s), false)
    assert.throws(() => v(s), (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT', JSON.stringify(s))
  }
  // 64-bit limits: blang rejects larger numbers although the DRA regex allows them
  for (const s of ['18446744073709551616.0.0', '0.18446744073709551616.0', '0.0.18446744073709551616', '1.0.0-18446744073709551616']) {
    assert.equal(Semver.tryParse(s), undefined, s)
  }
  assert.equal(v('1.0.0-18446744073709551615').prerelease[0], U64)
})

test('parse error names the problem and the expected shape', () => {
  try {
    Semver.parse('1.02.3', false, 'spec.devices[0].attributes.driverVersion')
    assert.fail('should throw')
  } catch (e) {
    assert.ok(e instanceof GpuplaneError)
    assert.equal(e.location.path, 'spec.devices[0].attributes.driverVersion')
    assert.match(e.message, /"1\.02\.3"/)
    assert.match(e.message, /leading zeros/)
    assert.match(e.message, /MAJOR\.MINOR\.PATCH/)
  }
  assert.throws(() => v('1.2'), /three dot-separated numbers/)
  assert.throws(() => v('1.2.3-a..b'), /prerelease identifier is empty/)
  assert.throws(() => Semver.parse('1.2-rc', true), /cannot carry prerelease/)
})

test('normalize: CEL semver(s, true)', () => {
  const table: [string, string | undefined][] = [
    ['v1.0.0', '1.0.0'], ['1.0', '1.0.0'], ['01.01.01', '1.1.1'], ['v1', '1.0.0'], ['1', '1.0.0'], ['v1.2', '1.2.0'],
    ['00.000.0', '0.0.0'], ['v01.02.03-alpha.1+b.01', '1.2.3-alpha.1+b.01'], ['1.2.0003-rc', '1.2.3-rc'], ['1.2.0-0a', '1.2.0-0a'],
    ['1.2.3', '1.2.3'], ['v1.2.3+build', '1.2.3+build'],
    // only one "v", lowercase, no trimming; prerelease is not normalised
    ['vv1.0.0', undefined], ['V1.0.0', undefined], [' 1.0.0', undefined], ['1.0.0 ', undefined], ['1.2.3-01', undefined],
    // a short version may not carry prerelease or build
    ['1.0-rc', undefined], ['1+b', undefined], ['v1.2-alpha', undefined],
    ['', undefined], ['v', undefined], ['1.2.3.4', undefined], ['1..3', undefined], ['a.b', undefined],
  ]
  for (const [input, want] of table) {
    const got = Semver.tryParse(input, true)
    assert.equal(got?.toString(), want, JSON.stringify(input))
    assert.equal(Semver.isSemver(input, true), want !== undefined)
  }
  assert.equal(Semver.isSemver('v1.0'), false)
  assert.equal(Semver.isSemver('v1.0', true), true)
})

test('major, minor and patch are exact unsigned bigints', () => {
  const x = v('1.2.3')
  assert.equal(x.major(), 1n)
  assert.equal(x.minor(), 2n)
  assert.equal(x.patch(), 3n)
  const big = v('18446744073709551615.9223372036854775808.0')
  assert.equal(big.major(), U64)
  assert.equal(BigInt.asIntN(64, big.major()), -1n)
  assert.equal(big.minor(), 1n << 63n)
  assert.deepEqual(v('1.0.0-alpha.1.x-y+b.2').prerelease, ['alpha', 1n, 'x-y'])
  assert.deepEqual(v('1.0.0-alpha.1.x-y+b.2').build, ['b', '2'])
})

test('precedence follows semver.org 2.0.0 (section 11)', () => {
  const ordered = [
    '0.9.9', '1.0.0-0', '1.0.0-1', '1.0.0-2', '1.0.0-10', '1.0.0-A', '1.0.0-Z', '1.0.0-a', '1.0.0-alpha', '1.0.0-alpha.1',
    '1.0.0-alpha.1.0', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1',
    '1.1.0', '1.10.0', '2.0.0', '10.0.0',
  ].map(v)
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      const want = i < j ? -1 : i > j ? 1 : 0
      const [a, b] = [ordered[i], ordered[j]]
      assert.equal(a.compare(b), want, `${a} vs ${b}`)
      assert.equal(a.isLessThan(b), want < 0)
      assert.equal(a.isGreaterThan(b), want > 0)
      assert.equal(a.equals(b), want === 0)
    }
  }
  const shuffled = [...ordered].reverse().sort(Semver.compare)
  assert.deepEqual(shuffled.map(String), ordered.map(String))
  // CEL examples
  assert.equal(v('1.2.3').compare(v('1.2.3')), 0)
  assert.equal(v('1.2.3').compare(v('2.0.0')), -1)
  assert.equal(v('1.2.3').compare(v('0.1.2')), 1)
})

test('build metadata is ignored by comparison and equality but kept in toString', () => {
  assert.ok(v('1.0.0+a').equals(v('1.0.0+b')))
  assert.ok(v('1.0.0-rc.1+x').equals(v('1.0.0-rc.1')))
  assert.equal(v('1.0.0+a').compare(v('1.0.0')), 0)
  assert.equal(v('1.0.0+a.b').toString(), '1.0.0+a.b')
  assert.equal(v('1.0.0-rc.1+x').isLessThan(v('1.0.0+y')), true)
})

const numeric = fc.bigInt({ min: 0n, max: U64 }).map(String)
const alnumId = fc.stringMatching(/^[0-9A-Za-z-]{1,8}$/).filter((s) => !/^[0-9]+$/.test(s))
const preId = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }).map(String), alnumId)
const version = fc
  .tuple(numeric, numeric, numeric, fc.array(preId, { maxLength: 3 }), fc.array(fc.stringMatching(/^[0-9A-Za-z-]{1,6}$/), { maxLength: 2 }))
  .map(([a, b, c, pre, build]) => `${a}.${b}.${c}${pre.length ? '-' + pre.join('.') : ''}${build.length ? '+' + build.join('.') : ''}`)

test('property: generated semver 2.0.0 strings are valid, parse and print back unchanged', () => {
  fc.assert(
    fc.property(version, (s) => {
      assert.ok(isValidSemver(s), s)
      assert.equal(v(s).toString(), s)
      assert.equal(Semver.parse(s, true).toString(), s)
      assert.equal(Semver.parse('v' + s, true).toString(), s)
    }),
  )
})

test('property: compare is antisymmetric, transitive and ignores build metadata', () => {
  fc.assert(
    fc.property(version, version, version, (x, y, z) => {
      const [a, b, c] = [v(x), v(y), v(z)]
      assert.equal(b.compare(a), -a.compare(b) || 0)
      if (a.compare(b) <= 0 && b.compare(c) <= 0) assert.ok(a.compare(c) <= 0)
      const strip = (s: string): Semver => v(s.split('+')[0])
      assert.equal(strip(x).compare(strip(y)), a.compare(b))
    }),
  )
})

test('property: release versions order like their number tuples', () => {
  fc.assert(
    fc.property(fc.tuple(numeric, numeric, numeric), fc.tuple(numeric, numeric, numeric), (p, r) => {
      const [a, b] = [v(p.join('.')), v(r.join('.'))]
      const pn = p.map(BigInt)
      const rn = r.map(BigInt)
      let want = 0
      for (let i = 0; i < 3 && want === 0; i++) want = pn[i] < rn[i] ? -1 : pn[i] > rn[i] ? 1 : 0
      assert.equal(a.compare(b), want)
    }),
  )
})
