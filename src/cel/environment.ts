// The cel-js Environment of DRA device selectors (Kubernetes 1.36 "StoredExpressions").
//
// Upstream builds it in dynamic-resource-allocation/cel/compile.go on top of the apiserver base
// environment (apiserver/pkg/cel/environment/base.go). What is here, and what is not:
//
// Present: the `device` variable (driver, attributes, capacity, allowMultipleAllocations);
// homogeneous aggregate literals; optional types; cross-type numeric comparisons (cel-js built-in);
// cel.bind; the standard macros; ext.TwoVarComprehensions (all/exists/existsOne with two
// variables, transformList, transformMap, transformMapEntry); Kubernetes quantity, semver (v1, with normalize), lists (v0) and
// regex (find/findAll) libraries; ext.Strings v2 (+ reverse from v3) — charAt, indexOf,
// lastIndexOf, lowerAscii, upperAscii, replace, split, substring, trim, join, quote, format;
// ext.Sets; ext.Lists v3 — lists.range, slice, flatten, distinct, reverse, sort, sortBy, first,
// last; DRA `includes()`.
//
// Not implemented (a selector using them fails to compile with SELECTOR_INVALID):
// - Kubernetes URLs (url(), isURL()), IP and CIDR (ip(), cidr(), isIP(), ...), Format
//   (format.dns1123Label() ...), Image, Authz and AuthzSelectors libraries: they describe network
//   addresses, object names, images and authorizers, none of which a device selector reads.
// - quantity mul/div/divInt: newer than the library version pinned here.
// - CEL list-type attributes (1.36 alpha DRAListTypeAttributes): the API shapes gpuplane accepts
//   carry no list values, though includes() and the list functions work on lists.
// Deviations: regexes run on JavaScript's engine, not RE2 (a leading `(?i)`-style flag group is
// translated); string indexOf/lastIndexOf/substring count UTF-16 units where cel-go counts code
// points (identical for ASCII).
import { Environment } from '@marcbachmann/cel-js'
import { QUANTITY_TYPE, registerLists as registerK8sLists, registerQuantity, registerRegex, registerSemver, registerTypes } from './lib-kubernetes.ts'
import { registerIncludes, registerLists, registerSets, registerStrings } from './lib-ext.ts'
import { CelDeviceView } from './device-view.ts'
import { registerTwoVarComprehensions } from './lib-comprehensions.ts'

export const DEVICE_TYPE = 'kubernetes.DRADevice'

let env: Environment | undefined

/** The shared environment, built on first use (registration costs a few milliseconds). */
export function draEnvironment(): Environment {
  env ??= buildEnvironment()
  return env
}

function buildEnvironment(): Environment {
  const e = new Environment({
    unlistedVariablesAreDyn: false,
    homogeneousAggregateLiterals: true,
    enableOptionalTypes: true,
  })
  registerTypes(e)
  e.registerType(DEVICE_TYPE, {
    ctor: CelDeviceView as unknown as new () => unknown,
    fields: {
      driver: 'string',
      attributes: 'map<string, map<string, dyn>>',
      capacity: `map<string, map<string, ${QUANTITY_TYPE}>>`,
      allowMultipleAllocations: 'bool',
    },
  })
  e.registerVariable('device', DEVICE_TYPE)
  registerQuantity(e)
  registerSemver(e)
  registerK8sLists(e)
  registerRegex(e)
  registerStrings(e)
  registerSets(e)
  registerLists(e)
  registerIncludes(e)
  registerTwoVarComprehensions(e)
  return e
}
