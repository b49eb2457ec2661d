// Every library function the DRA environment adds, through compileSelector as selectors use them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GpuplaneError } from '../common/errors.ts'
import { compileSelector, type DeviceInput } from './index.ts'

const dev: DeviceInput = {
  driver: 'dra.example.com',
  attributes: { s: { string: 'Some_Example_Value' }, v: { version: '1.2.3-rc.1' }, n: { int: 7n } },
  capacity: { mem: { value: '1536Mi' } },
}

/** Every expression must evaluate to true. */
function allTrue(exprs: string[]): void {
  for (const e of exprs) {
    let got: unknown
    try {
      got = compileSelector(e).matches(dev)
    } catch (err) {
      got = err instanceof Error ? err.message : err
    }
    assert.equal(got, true, e)
  }
}

/** Every expression compiles but fails at run time with a message matching `re`. */
function allFail(exprs: string[], re: RegExp): void {
  for (const e of exprs) {
    assert.throws(
      () => compileSelector(e, { enforceEstimatedCost: false }).matches(dev),
      (err: unknown) => err instanceof GpuplaneError && err.code === 'SELECTOR_RUNTIME_ERROR' && re.test(err.message),
      e,
    )
  }
}

test('quantity library', () => {
  allTrue([
    'isQuantity("1.3G") && isQuantity("1.3Gi") && !isQuantity("1,3G") && !isQuantity("200K") && !isQuantity("Three")',
    'quantity("50k").isInteger() && quantity("50000000G").isInteger()',
    '!quantity("9999999999999999999999999999999999999G").isInteger()',
    'quantity("50k").asInteger() == 50000',
    'quantity("50k").sub(20000).asApproximateFloat() == 30000.0',
    'quantity("50k").add(quantity("20k")) == quantity("70k")',
    'quantity("50k").add(20) == quantity("50020")',
    'quantity("50k").sub(quantity("20k")) == quantity("30k")',
    'quantity("50k").add(20).sub(quantity("100k")).sub(-50000) == quantity("20")',
    'quantity("200M").compareTo(quantity("0.2G")) == 0',
    'quantity("50M").compareTo(quantity("50Mi")) == -1 && quantity("50Mi").compareTo(quantity("50M")) == 1',
    'quantity("150Mi").isGreaterThan(quantity("100Mi")) && !quantity("50Mi").isGreaterThan(quantity("100Mi"))',
    'quantity("50M").isLessThan(quantity("100M")) && !quantity("100M").isLessThan(quantity("50M"))',
    'quantity("-1").sign() == -1 && sign(quantity("0")) == 0 && quantity("5m").sign() == 1',
    'quantity("1Gi") != quantity("1G")',
    'device.capacity["dra.example.com"].mem == quantity("1.5Gi")',
    'device.capacity["dra.example.com"].mem.asInteger() == 1610612736',
  ])
  allFail(['quantity("9999999999999999999999999999999999999G").asInteger() == 0'], /cannot convert value to integer/)
  allFail(['quantity("200K").isInteger()', 'quantity("Three").isInteger()'], /quantities must match/)
})

// Upstream's library docs claim isQuantity('Mi') is false, but apimachinery's ParseQuantity reads a
// bare suffix as zero (the numerator defaults to "0"); the code wins, so only the doc's other examples are used.

test('semver library', () => {
  allTrue([
    'isSemver("1.0.0") && !isSemver("hello") && !isSemver("v1.0") && isSemver("v1.0", true)',
    'isSemver("1.0", true) && isSemver("01.01.01", true) && !isSemver("01.01.01")',
    'semver("v1.0.0", true) == semver("1.0.0") && semver("1.0", true) == semver("1.0.0")',
    'semver("01.01.01", true) == semver("1.1.1")',
    'semver("1.2.3").major() == 1 && semver("1.2.3").minor() == 2 && semver("1.2.3").patch() == 3',
    'semver("1.2.3").compareTo(semver("1.2.3")) == 0',
    'semver("1.2.3").compareTo(semver("2.0.0")) == -1 && semver("1.2.3").compareTo(semver("0.1.2")) == 1',
    'semver("1.0.0").isGreaterThan(semver("1.0.0-alpha")) && semver("1.0.0-alpha").isLessThan(semver("1.0.0-beta"))',
    'device.attributes["dra.example.com"].v.isLessThan(semver("1.2.3"))',
    'device.attributes["dra.example.com"].v == semver("1.2.3-rc.1")',
    'device.attributes["dra.example.com"].v.minor() == 2',
  ])
  allFail(['semver("Three").major() == 0', 'semver("1.0").major() == 1'], /SELECTOR|semver|version/i)
})

test('cel.bind', () => {
  allTrue([
    'cel.bind(x, 2, x * x == 4)',
    'cel.bind(a, device.attributes["dra.example.com"], a.n == 7 && a.s.size() == 18)',
    'cel.bind(a, [1, 2], cel.bind(b, a.size(), b == 2))',
  ])
})

test('ext strings: functions cel-js adds and the ones gpuplane adds', () => {
  allTrue([
    '"hello".charAt(1) == "e" && "hello".charAt(5) == ""',
    '"hello".indexOf("l") == 2 && "hello".indexOf("l", 3) == 3 && "hello".lastIndexOf("l") == 3',
    '"TacoCat".lowerAscii() == "tacocat" && "TacoCat".upperAscii() == "TACOCAT"',
    '"ÀB".lowerAscii() == "Àb" && "àb".upperAscii() == "àB"',
    '"hello hello".replace("he", "we") == "wello wello"',
    '"hello hello".replace("he", "we", 1) == "wello hello"',
    '"hello hello".replace("he", "we", 0) == "hello hello"',
    '"abc".replace("", "-") == "-a-b-c-"',
    '"gums".reverse() == "smug"',
    '"hello world".split(" ") == ["hello", "world"] && "a,b,c".split(",", 2) == ["a", "b,c"]',
    '"tacocat".substring(4) == "cat" && "tacocat".substring(0, 4) == "taco"',
    '"  \\ttrim\\n ".trim() == "trim"',
    '["hello", "mellow"].join() == "hellomellow" && ["a", "b"].join(", ") == "a, b"',
    'strings.quote("single-quote with \\"double quote\\"") == "\\"single-quote with \\\\\\"double quote\\\\\\"\\""',
    'strings.quote("line\\nbreak") == "\\"line\\\\nbreak\\""',
    '"%s is %d years".format([dyn("Ann"), dyn(30)]) == "Ann is 30 years"',
    '"%.2f|%f".format([dyn(3.14159), dyn(2)]) == "3.14|2.000000"',
    '"%e".format([1234.5678]) == "1.234568e+03"',
    '"%b %o %x %X".format([5, 8, 255, 255]) == "101 10 ff FF"',
    '"%x".format(["hi"]) == "6869" && "100%%".format([]) == "100%"',
    '"%s".format([[dyn(1), dyn("a")]]) == "[1, a]" && "%s".format([true]) == "true"',
    'device.attributes["dra.example.com"].s.lowerAscii().startsWith("some_")',
  ])
  allFail(['"%d".format(["x"]) == ""'], /integers/)
  allFail(['"%q".format([1]) == ""'], /unrecognized formatting clause/)
  allFail(['"abc".charAt(4) == ""'], /index out of range/)
})

test('regex: matches, find, findAll', () => {
  allTrue([
    '"asymetric".matches("[^a]?sym")',
    '"ABC".matches("(?i)^abc$")',
    '"abc 123".find("[0-9]+") == "123" && "abc".find("[0-9]+") == ""',
    '"123 abc 456".findAll("[0-9]+") == ["123", "456"]',
    '"123 abc 456".findAll("[0-9]+", 1) == ["123"] && "123 abc 456".findAll("[0-9]+", 0) == []',
    'device.attributes["dra.example.com"].s.matches("^Some")',
  ])
  assert.throws(() => compileSelector('"a".find("(") == ""'), (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_INVALID')
  allFail(['cel.bind(re, "(" + "", "a".matches(re))'], /invalid regular expression/)
})

test('Kubernetes lists library', () => {
  allTrue([
    '[1, 2, 3].isSorted() && ["a", "b", "b"].isSorted() && ![2, 1].isSorted() && [].isSorted()',
    '[1, 2, 3].sum() == 6 && [1.5, 2.5].sum() == 4.0 && [].sum() == 0',
    '[3, 1, 2].min() == 1 && [3, 1, 2].max() == 3 && ["b", "a"].min() == "a"',
    '[1, 2, 2, 3].indexOf(2) == 1 && [1, 2, 2, 3].lastIndexOf(2) == 2 && [1].indexOf(5) == -1',
    '["a", "b"].indexOf("b") == 1',
  ])
  allFail(['[].min() == 0'], /empty list/)
  allFail(['[9223372036854775807, 1].sum() == 0'], /overflow/)
})

test('ext sets', () => {
  allTrue([
    'sets.contains([1, 2, 3], [2, 3]) && !sets.contains([1], [2]) && sets.contains([1], [])',
    'sets.equivalent([1, 2, 2], [2, 1]) && !sets.equivalent([1], [1, 2])',
    'sets.intersects([1, 2], [2, 3]) && !sets.intersects([1], [3]) && !sets.intersects([], [])',
    'sets.contains([dyn(1), dyn(2.0)], [dyn(2)])',
  ])
})

test('ext lists v3', () => {
  allTrue([
    'lists.range(4) == [0, 1, 2, 3] && lists.range(0) == []',
    '[1, 2, 3, 4].slice(1, 3) == [2, 3] && [1].slice(1, 1) == []',
    '[[1, 2], [3]].flatten() == [1, 2, 3] && [dyn(1), dyn([dyn(2), dyn([dyn(3), dyn([4])])])].flatten(2) == [dyn(1), dyn(2), dyn(3), dyn([4])]',
    '[1, 2, 2, 1, 3].distinct() == [1, 2, 3]',
    '[1, 2, 3].reverse() == [3, 2, 1]',
    '[3, 1, 2].sort() == [1, 2, 3] && ["b", "a"].sort() == ["a", "b"]',
    '["bb", "a", "ccc"].sortBy(s, s.size()) == ["a", "bb", "ccc"]',
    '[1, 2].first().value() == 1 && [1, 2].last().value() == 2 && ![].first().hasValue()',
    '[1, 2, 3].last().orValue(0) == 3',
  ])
  allFail(['[1, 2].slice(2, 1) == []'], /start index/)
  allFail(['[1, 2].slice(0, 3) == []'], /length/)
  allFail(['[dyn(1), dyn("a")].sort() == []'], /cannot compare/)
})

test('standard macros and optional types', () => {
  allTrue([
    '[1, 2, 3].all(x, x > 0) && [1, 2, 3].exists(x, x == 2) && [1, 2, 3].exists_one(x, x == 2)',
    '[1, 2, 3].map(x, x * 2) == [2, 4, 6] && [1, 2, 3].filter(x, x > 1) == [2, 3]',
    '[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]',
    'device.attributes["dra.example.com"].exists(k, k == "n")',
    'device.attributes["dra.example.com"].?missing.orValue("dflt") == "dflt"',
    'device.attributes["dra.example.com"].?n.orValue(0) == 7',
    'optional.of(1).hasValue() && !optional.none().hasValue()',
    '1 < 1.5 && 2.0 > 1 && dyn(1) == 1.0',
  ])
})

test('ext two-variable comprehensions', () => {
  allTrue([
    '[1, 2, 3].all(i, v, v > i) && ![1, 2, 3].all(i, v, v > 1)',
    '[1, 2, 3].exists(i, v, i == 2 && v == 3) && !{"a": 1}.exists(k, v, v == 2)',
    '[1, 2, 3].existsOne(i, v, v == 2) && ![2, 2].exists_one(i, v, v == 2)',
    '[1, 2, 3].transformList(i, v, v * i) == [0, 2, 6] && [1, 2, 3].transformList(i, v, i > 0, v) == [2, 3]',
    '{"a": 1, "b": 2}.transformMap(k, v, v + 1) == {"a": 2, "b": 3}',
    '{"a": 1, "b": 2}.transformMap(k, v, v > 1, v) == {"b": 2}',
    '{"a": 1}.transformMapEntry(k, v, {v: k}) == {1: "a"}',
    'device.attributes["dra.example.com"].exists(k, v, k == "n" && v == 7)',
    'device.attributes.all(domain, ids, size(ids) == 3)',
  ])
  assert.throws(() => compileSelector('[1].all(x, x, true)'), (e: unknown) => e instanceof GpuplaneError && e.code === 'SELECTOR_INVALID')
  allFail(['[{"a": 1}, {"a": 2}].transformMapEntry(i, m, m) == {}'], /already exists/)
})
