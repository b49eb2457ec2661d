// Tests of label selector parsing, formatting, matching and the object form.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { GpuplaneError } from '../common/errors.ts'
import { formatLabelSelector, labelSelectorFromObject, matchesLabels, parseLabelSelector, type LabelRequirement } from './labels.ts'

function parseError(selector: string): GpuplaneError {
  try {
    parseLabelSelector(selector)
  } catch (e) {
    assert.ok(e instanceof GpuplaneError)
    assert.equal(e.code, 'INVALID_INPUT')
    assert.equal(e.location.path, 'labelSelector')
    return e
  }
  assert.fail(`expected ${JSON.stringify(selector)} to be rejected`)
}

describe('parseLabelSelector', () => {
  it('parses every operator of the agreed example', () => {
    assert.deepEqual(parseLabelSelector('a=b,c!=d,e in (x,y),f notin (z),g,!h'), [
      { key: 'a', op: '=', value: 'b' },
      { key: 'c', op: '!=', value: 'd' },
      { key: 'e', op: 'in', values: ['x', 'y'] },
      { key: 'f', op: 'notin', values: ['z'] },
      { key: 'g', op: 'exists' },
      { key: 'h', op: '!' },
    ])
  })

  it('reads == as =, ignores whitespace, and accepts prefixed keys', () => {
    assert.deepEqual(parseLabelSelector('  gpuplane.io/cluster == demo ,  tier notin(a, b) '), [
      { key: 'gpuplane.io/cluster', op: '=', value: 'demo' },
      { key: 'tier', op: 'notin', values: ['a', 'b'] },
    ])
  })

  it('has no requirements for an empty or blank selector', () => {
    assert.deepEqual(parseLabelSelector(''), [])
    assert.deepEqual(parseLabelSelector('   '), [])
  })

  it('reads empty values as Kubernetes does', () => {
    assert.deepEqual(parseLabelSelector('a=,b!='), [
      { key: 'a', op: '=', value: '' },
      { key: 'b', op: '!=', value: '' },
    ])
    assert.deepEqual(parseLabelSelector('a in ()'), [{ key: 'a', op: 'in', values: [''] }])
    assert.deepEqual(parseLabelSelector('a in (x,)'), [{ key: 'a', op: 'in', values: ['x', ''] }])
    assert.deepEqual(parseLabelSelector('a in (,x)'), [{ key: 'a', op: 'in', values: ['', 'x'] }])
  })

  it('names the position and what was expected', () => {
    assert.match(parseError('a=b,').message, /position 4, expected a label key .* found the end/)
    assert.match(parseError('a b').message, /position 2, expected '=', '==', '!=', 'in', 'notin', ',' or the end .* after key 'a', found 'b'/)
    assert.match(parseError('a in x').message, /position 5, expected '\(' starting the list of values/)
    assert.match(parseError('a in (x y)').message, /position 8, expected ',' or '\)'/)
    assert.match(parseError('a in (x').message, /expected ',' or '\)' .* found the end/)
    assert.match(parseError('!a=b').message, /position 2, .*a '!' requirement takes no operator/)
    assert.match(parseError('a=b=c').message, /position 3, expected ',' between requirements/)
    assert.match(parseError('a>1').message, /'<' and '>' operators are not supported/)
    assert.match(parseError('=b').message, /position 0, expected a label key/)
  })

  it('checks keys and values as Kubernetes does', () => {
    assert.match(parseError('-a=b').message, /valid label key: '-a'/)
    assert.match(parseError('a/b/c').message, /valid label key/)
    assert.match(parseError(`${'k'.repeat(64)}=v`).message, /no more than 63 characters/)
    assert.match(parseError(`k=${'v'.repeat(64)}`).message, /valid label value: .*no more than 63 characters/)
    assert.match(parseError('k in (ok,-bad)').message, /valid label value: '-bad'/)
    assert.match(parseError('Example.com/k=v').message, /prefix before '\/'/)
    assert.equal(parseLabelSelector(`${'k'.repeat(63)}=${'v'.repeat(63)}`).length, 1)
  })

  it('uses the given field path in errors', () => {
    assert.throws(
      () => parseLabelSelector('a b', 'spec.selector'),
      (e: unknown) => e instanceof GpuplaneError && e.location.path === 'spec.selector',
    )
  })
})

describe('matchesLabels', () => {
  const labels = { app: 'web', tier: 'gpu' }
  const m = (selector: string, l: Record<string, string> | undefined = labels) => matchesLabels(l, parseLabelSelector(selector))

  it('matches each operator as Kubernetes does', () => {
    assert.equal(m(''), true)
    assert.equal(m('app=web'), true)
    assert.equal(m('app=db'), false)
    assert.equal(m('app!=db'), true)
    assert.equal(m('app!=web'), false)
    assert.equal(m('missing!=x'), true, '!= matches objects without the label')
    assert.equal(m('app in (db,web)'), true)
    assert.equal(m('app in (db)'), false)
    assert.equal(m('missing in (x)'), false)
    assert.equal(m('app notin (db)'), true)
    assert.equal(m('app notin (web)'), false)
    assert.equal(m('missing notin (x)'), true, 'notin matches objects without the label')
    assert.equal(m('tier'), true)
    assert.equal(m('missing'), false)
    assert.equal(m('!missing'), true)
    assert.equal(m('!tier'), false)
    assert.equal(m('app=web,tier=cpu'), false, 'every requirement must hold')
  })

  it('treats absent labels as none and does not see inherited properties', () => {
    assert.equal(m('a!=b', undefined), true)
    assert.equal(m('a', undefined), false)
    assert.equal(m('toString', {}), false)
    assert.equal(m('!constructor', {}), true)
  })

  it('matches the empty value only when the label is there and empty', () => {
    assert.equal(m('a=', { a: '' }), true)
    assert.equal(m('a=', {}), false)
    assert.equal(m('a in ()', { a: '' }), true)
  })
})

describe('labelSelectorFromObject', () => {
  it('converts matchLabels and matchExpressions', () => {
    assert.deepEqual(
      labelSelectorFromObject({
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'zone', operator: 'NotIn', values: ['z'] },
          { key: 'gpu', operator: 'Exists' },
          { key: 'cpu', operator: 'DoesNotExist', values: [] },
        ],
      }),
      [
        { key: 'app', op: '=', value: 'web' },
        { key: 'tier', op: 'in', values: ['a', 'b'] },
        { key: 'zone', op: 'notin', values: ['z'] },
        { key: 'gpu', op: 'exists' },
        { key: 'cpu', op: '!' },
      ],
    )
    assert.deepEqual(labelSelectorFromObject({}), [])
  })

  it('rejects what Kubernetes rejects, with the field path', () => {
    const fails = (selector: Parameters<typeof labelSelectorFromObject>[0], path: string, message: RegExp) =>
      assert.throws(
        () => labelSelectorFromObject(selector, 'spec.selector'),
        (e: unknown) => e instanceof GpuplaneError && e.code === 'INVALID_INPUT' && e.location.path === path && message.test(e.message),
      )
    fails({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, 'spec.selector.matchExpressions[0].values', /at least one value/)
    fails({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, 'spec.selector.matchExpressions[0].values', /takes no values/)
    fails({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, 'spec.selector.matchExpressions[0].operator', /use In, NotIn, Exists or DoesNotExist/)
    fails({ matchExpressions: [{ key: '_a', operator: 'Exists' }] }, 'spec.selector.matchExpressions[0].key', /label key '_a'/)
    fails({ matchExpressions: [{ key: 'a', operator: 'In', values: ['ok', 'not ok'] }] }, 'spec.selector.matchExpressions[0].values[1]', /label value/)
    fails({ matchLabels: { a: 'x'.repeat(64) } }, 'spec.selector.matchLabels["a"]', /63 characters/)
  })
})

// Generators of valid keys, values and requirements for the round-trip properties.
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''))
const inner = fc.constantFrom(...'abcxyzABC019-_.'.split(''))
const namePart = fc
  .tuple(alnum, fc.array(inner, { maxLength: 8 }), alnum)
  .map(([a, mid, b]) => a + mid.join('') + b)
  .filter((s) => s !== 'in' && s !== 'notin')
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?$/)
const key = fc.oneof(
  namePart,
  fc.tuple(fc.array(dnsLabel, { minLength: 1, maxLength: 3 }), namePart).map(([labels, name]) => `${labels.join('.')}/${name}`),
)
const value = fc.oneof(fc.constant(''), alnum, namePart)
const requirement: fc.Arbitrary<LabelRequirement> = fc.oneof(
  fc.record({ key, op: fc.constantFrom('=' as const, '!=' as const), value }),
  fc.record({ key, op: fc.constantFrom('in' as const, 'notin' as const), values: fc.array(value, { minLength: 1, maxLength: 4 }) }),
  fc.record({ key, op: fc.constantFrom('exists' as const, '!' as const) }),
).map((r) => ({ ...r })) // fc.record builds null-prototype objects; the parser builds plain ones

describe('label selector properties', () => {
  it('parse(format(requirements)) gives the requirements back', () => {
    fc.assert(
      fc.property(fc.array(requirement, { maxLength: 6 }), (requirements) => {
        assert.deepEqual(parseLabelSelector(formatLabelSelector(requirements)), requirements)
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 500) },
    )
  })

  it('format(parse(s)) is a fixed point of parsing', () => {
    fc.assert(
      fc.property(fc.array(requirement, { maxLength: 6 }), (requirements) => {
        const once = formatLabelSelector(parseLabelSelector(formatLabelSelector(requirements)))
        assert.equal(formatLabelSelector(parseLabelSelector(once)), once)
      }),
    )
  })

  it('the object form selects the same labels as the equivalent string', () => {
    const labelSet = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.constantFrom('x', 'y', ''), { maxKeys: 3 })
    const expression = fc.oneof(
      fc.record({ key: fc.constantFrom('a', 'b', 'c'), operator: fc.constantFrom('In', 'NotIn'), values: fc.array(fc.constantFrom('x', 'y', ''), { minLength: 1, maxLength: 2 }) }),
      fc.record({ key: fc.constantFrom('a', 'b', 'c'), operator: fc.constantFrom('Exists', 'DoesNotExist') }),
    )
    fc.assert(
      fc.property(labelSet, fc.array(expression, { maxLength: 3 }), labelSet, (matchLabels, matchExpressions, labels) => {
        const fromObject = labelSelectorFromObject({ matchLabels, matchExpressions })
        const fromString = parseLabelSelector(formatLabelSelector(fromObject))
        assert.equal(matchesLabels(labels, fromObject), matchesLabels(labels, fromString))
      }),
    )
  })

  it('never throws anything but INVALID_INPUT on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab=!(),<> in notin/.-_'.split('')), maxLength: 30 }), (s) => {
        try {
          const r = parseLabelSelector(s)
          assert.deepEqual(parseLabelSelector(formatLabelSelector(r)), r)
        } catch (e) {
          assert.ok(e instanceof GpuplaneError && e.code === 'INVALID_INPUT', String(e))
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 2000) },
    )
  })
})
