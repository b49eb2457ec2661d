// Unit tests of the table helpers: column alignment and kubectl's ages.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatAge, formatTable } from './table.ts'

test('columns are padded to their widest cell; the last one is not padded', () => {
  assert.equal(formatTable(['NAME', 'AGE'], [['a', '5s'], ['longer-name', '10m']], 3), 'NAME          AGE\na             5s\nlonger-name   10m\n')
  assert.equal(formatTable(['A', 'B'], [['xx', 'y']]), 'A   B\nxx  y\n')
})

test('ages read as kubectl writes them', () => {
  const now = Date.parse('2026-01-10T00:00:00Z')
  const ago = (s: number) => new Date(now - s * 1000).toISOString()
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [119, '119s'],
    [120, '2m'],
    [330, '5m30s'],
    [25 * 60, '25m'],
    [200 * 60, '3h20m'],
    [30 * 3600, '30h'],
    [(3 * 24 + 5) * 3600, '3d5h'],
    [200 * 86400, '200d'],
    [(2 * 365 + 30) * 86400, '2y30d'],
    [9 * 365 * 86400, '9y'],
  ]
  for (const [seconds, age] of cases) assert.equal(formatAge(ago(seconds), now), age, `${seconds} s`)
  assert.equal(formatAge(undefined, now), '<unknown>')
  assert.equal(formatAge(new Date(now + 5000).toISOString(), now), '<invalid>')
})
