import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  cIdentifierProblems,
  dnsLabelProblems,
  dnsSubdomainProblems,
  extendedResourceNameProblems,
  isNormalizedUuid,
  labelKeyProblems,
  labelValueProblems,
  objectNameProblems,
} from './names.ts'
import { isValidSemver } from './semver.ts'

const ok = (problems: string[]) => assert.deepEqual(problems, [])
const bad = (problems: string[]) => assert.ok(problems.length > 0, 'expected a problem')

test('DNS labels: lowercase alphanumerics and inner dashes, at most 63', () => {
  for (const v of ['a', 'gpu-0', '0', 'a'.repeat(63)]) ok(dnsLabelProblems(v))
  for (const v of ['', 'GPU', '-a', 'a-', 'a.b', 'a_b', 'a'.repeat(64)]) bad(dnsLabelProblems(v))
  assert.match(dnsLabelProblems('a'.repeat(64))[0], /no more than 63/)
})

test('DNS subdomains: dot-separated labels, at most 253', () => {
  for (const v of ['gpu.nvidia.com', 'a', 'a-b.c', 'x'.repeat(253)]) ok(dnsSubdomainProblems(v))
  for (const v of ['', 'Gpu.nvidia.com', 'a..b', '.a', 'a.', 'a/b', 'x'.repeat(254)]) bad(dnsSubdomainProblems(v))
  // generateName prefixes may end in '-'
  ok(objectNameProblems('claim-', true))
  bad(objectNameProblems('claim-'))
})

test('C identifiers', () => {
  for (const v of ['productName', '_x', 'a1_b']) ok(cIdentifierProblems(v))
  for (const v of ['', '1a', 'a-b', 'a.b']) bad(cIdentifierProblems(v))
})

test('label keys and values', () => {
  for (const v of ['key', 'example.com/my-key', 'a.b_c-D']) ok(labelKeyProblems(v))
  for (const v of ['', '/a', 'a/', 'a/b/c', 'Ex.com/a', '-a', 'a'.repeat(64)]) bad(labelKeyProblems(v))
  for (const v of ['', 'v1', 'A.b_c-d', 'a'.repeat(63)]) ok(labelValueProblems(v))
  for (const v of ['-a', 'a b', 'a'.repeat(64)]) bad(labelValueProblems(v))
})

test('UUIDs in normalized form', () => {
  assert.equal(isNormalizedUuid('6c01cc40-3527-43a9-a241-89c9e7d18921'), true)
  assert.equal(isNormalizedUuid('6C01CC40-3527-43A9-A241-89C9E7D18921'), false)
  assert.equal(isNormalizedUuid('6c01cc4035 2743a9a24189c9e7d18921'), false)
  assert.equal(isNormalizedUuid('{6c01cc40-3527-43a9-a241-89c9e7d18921}'), false)
})

// The format of `version` attributes, which validate-slice.ts checks with semver.ts's isValidSemver.
test('strict semver 2.0.0 (isValidSemver)', () => {
  for (const v of ['1.2.3', '0.0.0', '12.4.0-rc.1', '1.0.0-alpha.beta+exp.sha.5114f85', '1.0.0-0', '1.0.0-x-y', '1.0.0+001']) {
    assert.equal(isValidSemver(v), true, v)
  }
  for (const v of ['v1.2.3', '1.2', '1.2.3.4', '01.2.3', '1.02.3', '1.2.3-01', '1.2.3-', '1.2.3+', '1.2.3-a..b', ' 1.2.3', '1.2.3 ']) {
    assert.equal(isValidSemver(v), false, v)
  }
})

test('extended resource names', () => {
  for (const v of ['example.com/gpu', 'nvidia.com/gpu', 'deviceclass.resource.kubernetes.io/gpu']) {
    // The last one is the implicit name upstream derives; it is not accepted as an explicit name.
    if (v.includes('kubernetes.io/')) bad(extendedResourceNameProblems(v))
    else ok(extendedResourceNameProblems(v))
  }
  for (const v of ['gpu', 'requests.example.com/gpu', 'example.com/', 'example.com/' + 'a'.repeat(64), 'Ex_ample.com/gpu']) {
    bad(extendedResourceNameProblems(v))
  }
})
