// Kubernetes label selectors: the string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h`), the object form ({matchLabels, matchExpressions}), matching.
//
// The grammar and its corner cases are those of k8s.io/apimachinery/pkg/labels (selector.go),
// re-expressed here:
//
//   selector    ::= "" | requirement ("," requirement)*
//   requirement ::= "!" KEY | KEY [ ("=" | "==" | "!=") VALUE | ("in" | "notin") "(" values ")" ]
//   values      ::= VALUE? ("," VALUE?)*      -- an empty item is the empty value: `in ()` is `in ("")`
//
// Whitespace between tokens is ignored; a VALUE after `=` may be empty (`tier=` matches the label
// `tier: ""`). Keys must be qualified names and values valid label values (63 characters at most),
// as Kubernetes checks them. The `>`/`<` operators of labels.Parse are not supported: they are not
// part of metav1.LabelSelector and the store's requirements cannot express them.
//
// Matching (upstream Requirement.Matches): `=` and `in` need the label with one of the values;
// `!=` and `notin` also match objects that lack the label; `exists` needs the key, `!` its absence.
import { GpuplaneError } from '../common/errors.ts'
import { labelKeyProblems, labelValueProblems } from './names.ts'

/** Kubernetes equality- and set-based label selector requirements, already parsed. */
export type LabelRequirement =
  | { key: string; op: '=' | '!='; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' }

/** metav1.LabelSelector: the object form of a selector, as Kubernetes objects carry it. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string>
  matchExpressions?: { key: string; operator: string; values?: string[] }[]
}

type TokenKind = 'ident' | 'in' | 'notin' | '=' | '==' | '!=' | '!' | '(' | ')' | ',' | '<' | '>' | 'end'

interface Token {
  kind: TokenKind
  text: string
  /** 0-based offset of the token's first character in the selector string. */
  pos: number
}

const SPECIAL = new Set(['=', '!', '(', ')', ',', '<', '>'])
const WHITESPACE = new Set([' ', '\t', '\r', '\n'])

/** Splits a selector into tokens; identifiers are runs of anything but whitespace and `=!(),<>`. */
function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < input.length) {
    const ch = input[i]
    if (WHITESPACE.has(ch)) {
      i++
      continue
    }
    if (SPECIAL.has(ch)) {
      const two = input.slice(i, i + 2)
      if (two === '==' || two === '!=') {
        tokens.push({ kind: two, text: two, pos: i })
        i += 2
      } else {
        tokens.push({ kind: ch as TokenKind, text: ch, pos: i })
        i++
      }
      continue
    }
    const start = i
    while (i < input.length && !WHITESPACE.has(input[i]) && !SPECIAL.has(input[i])) i++
    const text = input.slice(start, i)
    const kind: TokenKind = text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'ident'
    tokens.push({ kind, text, pos: start })
  }
  tokens.push({ kind: 'end', text: '', pos: input.length })
  return tokens
}

function describeToken(t: Token): string {
  return t.kind === 'end' ? 'the end of the selector' : `'${t.text}'`
}

/** Recursive-descent parser over the tokens; every error names the position and what was expected. */
class SelectorParser {
  private i = 0
  private readonly tokens: Token[]

  constructor(
    private readonly input: string,
    private readonly field: string,
  ) {
    this.tokens = tokenize(input)
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = []
    if (this.peek().kind === 'end') return requirements
    for (;;) {
      requirements.push(this.requirement())
      const t = this.next()
      if (t.kind === 'end') return requirements
      if (t.kind !== ',') this.fail(t, "',' between requirements or the end of the selector")
    }
  }

  private requirement(): LabelRequirement {
    const first = this.next()
    if (first.kind === '!') {
      const key = this.key(this.next())
      const after = this.peek()
      if (after.kind !== ',' && after.kind !== 'end') {
        this.fail(after, `',' or the end of the selector after '!${key}' (a '!' requirement takes no operator or value)`)
      }
      return { key, op: '!' }
    }
    const key = this.key(first)
    const op = this.peek()
    switch (op.kind) {
      case ',':
      case 'end':
        return { key, op: 'exists' }
      case '=':
      case '==':
      case '!=':
        this.next()
        return { key, op: op.kind === '!=' ? '!=' : '=', value: this.exactValue() }
      case 'in':
      case 'notin':
        this.next()
        return { key, op: op.kind, values: this.valueSet() }
      case '<':
      case '>':
        return this.fail(op, `'=', '==', '!=', 'in' or 'notin' after key '${key}' (the '<' and '>' operators are not supported)`)
      default:
        return this.fail(op, `'=', '==', '!=', 'in', 'notin', ',' or the end of the selector after key '${key}'`)
    }
  }

  private key(t: Token): string {
    if (t.kind !== 'ident') this.fail(t, "a label key (e.g. 'app' or 'example.com/tier')")
    const problems = labelKeyProblems(t.text)
    if (problems.length > 0) this.fail(t, `a valid label key: '${t.text}' ${problems.join('; ')}`)
    return t.text
  }

  /** The value after `=`/`!=`; empty when a ',' or the end follows directly. */
  private exactValue(): string {
    const t = this.peek()
    if (t.kind === ',' || t.kind === 'end') return ''
    if (t.kind !== 'ident') this.fail(t, 'a label value')
    this.next()
    return this.value(t)
  }

  private valueSet(): string[] {
    const open = this.next()
    if (open.kind !== '(') this.fail(open, "'(' starting the list of values, e.g. 'in (a,b)'")
    const values: string[] = []
    let expectValue = true
    for (;;) {
      const t = this.next()
      if (t.kind === ')') {
        if (expectValue) values.push('')
        return values
      }
      if (t.kind === ',') {
        if (expectValue) values.push('')
        expectValue = true
        continue
      }
      if (t.kind === 'ident' && expectValue) {
        values.push(this.value(t))
        expectValue = false
        continue
      }
      this.fail(t, expectValue ? "a label value, ',' or ')'" : "',' or ')' in the list of values")
    }
  }

  private value(t: Token): string {
    const problems = labelValueProblems(t.text)
    if (problems.length > 0) this.fail(t, `a valid label value: '${t.text}' ${problems.join('; ')}`)
    return t.text
  }

  private peek(): Token {
    return this.tokens[this.i]
  }

  private next(): Token {
    const t = this.tokens[this.i]
    if (t.kind !== 'end') this.i++
    return t
  }

  private fail(t: Token, expected: string): never {
    throw new GpuplaneError(
      'INVALID_INPUT',
      `label selector ${JSON.stringify(this.input)}: at position ${t.pos}, expected ${expected}, found ${describeToken(t)}`,
      { path: this.field },
    )
  }
}

/**
 * Parses a Kubernetes label selector string. An empty (or all-whitespace) selector has no
 * requirements and matches everything. Throws GpuplaneError INVALID_INPUT naming the position
 * and what was expected there; `field` is the error's field path (default `labelSelector`, the
 * query parameter).
 */
export function parseLabelSelector(selector: string, field = 'labelSelector'): LabelRequirement[] {
  return new SelectorParser(selector, field).parse()
}

/** Writes requirements back in the string form that parseLabelSelector reads. */
export function formatLabelSelector(requirements: readonly LabelRequirement[]): string {
  return requirements
    .map((r) => {
      switch (r.op) {
        case '=':
        case '!=':
          return `${r.key}${r.op}${r.value}`
        case 'in':
        case 'notin':
          return `${r.key} ${r.op} (${r.values.join(',')})`
        case 'exists':
          return r.key
        case '!':
          return `!${r.key}`
      }
    })
    .join(',')
}

/** Whether labels (absent: none) satisfy every requirement (no requirements: always). */
export function matchesLabels(labels: Readonly<Record<string, string>> | undefined, requirements: readonly LabelRequirement[]): boolean {
  for (const r of requirements) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key)
    const value = has ? labels[r.key] : undefined
    switch (r.op) {
      case '=':
        if (value !== r.value) return false
        break
      case '!=':
        if (value === r.value) return false
        break
      case 'in':
        if (value === undefined || !r.values.includes(value)) return false
        break
      case 'notin':
        if (value !== undefined && r.values.includes(value)) return false
        break
      case 'exists':
        if (!has) return false
        break
      case '!':
        if (has) return false
        break
    }
  }
  return true
}

const OPERATORS = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' } as const

/**
 * Converts metav1.LabelSelector ({matchLabels, matchExpressions}) into requirements, checking it as
 * Kubernetes does (LabelSelectorAsSelector): keys and values valid, `In`/`NotIn` with at least one
 * value, `Exists`/`DoesNotExist` with none. An empty selector matches everything; whether an
 * absent selector matches everything or nothing is the caller's choice. `field` is the selector's
 * field path, used in errors (e.g. `spec.selector`).
 */
export function labelSelectorFromObject(selector: LabelSelectorObject, field = 'selector'): LabelRequirement[] {
  const requirements: LabelRequirement[] = []
  const fail = (path: string, message: string): never => {
    throw new GpuplaneError('INVALID_INPUT', message, { path })
  }
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const path = `${field}.matchLabels[${JSON.stringify(key)}]`
    const keyProblems = labelKeyProblems(key)
    if (keyProblems.length > 0) fail(path, `label key '${key}' ${keyProblems.join('; ')}`)
    if (typeof value !== 'string') fail(path, `label value must be a string, got ${typeof value}`)
    const valueProblems = labelValueProblems(value)
    if (valueProblems.length > 0) fail(path, `label value '${value}' ${valueProblems.join('; ')}`)
    requirements.push({ key, op: '=', value })
  }
  ;(selector.matchExpressions ?? []).forEach((e, i) => {
    const path = `${field}.matchExpressions[${i}]`
    const keyProblems = labelKeyProblems(e.key)
    if (keyProblems.length > 0) fail(`${path}.key`, `label key '${e.key}' ${keyProblems.join('; ')}`)
    const op = Object.hasOwn(OPERATORS, e.operator) ? OPERATORS[e.operator as keyof typeof OPERATORS] : undefined
    if (op === undefined) {
      fail(`${path}.operator`, `unknown operator '${e.operator}': use In, NotIn, Exists or DoesNotExist`)
    }
    const values = e.values ?? []
    if (op === 'in' || op === 'notin') {
      if (values.length === 0) fail(`${path}.values`, `operator ${e.operator} needs at least one value`)
      values.forEach((v, j) => {
        const problems = labelValueProblems(v)
        if (problems.length > 0) fail(`${path}.values[${j}]`, `label value '${v}' ${problems.join('; ')}`)
      })
      requirements.push({ key: e.key, op, values: [...values] })
    } else {
      if (values.length > 0) fail(`${path}.values`, `operator ${e.operator} takes no values: remove them`)
      requirements.push({ key: e.key, op: op as 'exists' | '!' })
    }
  })
  return requirements
}
