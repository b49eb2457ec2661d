// Kubernetes name formats (DNS labels and subdomains, C identifiers, label keys and values, UUIDs) as checks with messages.
//
// Semantic versions (the `version` attribute format) are in semver.ts: isValidSemver.
//
// Each `...Problems` function returns the list of things wrong with a value (empty when valid),
// phrased so that a user knows what is allowed; callers prefix them with the field path.
// The rules are those of k8s.io/apimachinery/pkg/util/validation, re-expressed here.

/** k8s.io/apimachinery/pkg/util/validation: DNS1123LabelMaxLength. */
export const DNS1123_LABEL_MAX_LENGTH = 63
/** k8s.io/apimachinery/pkg/util/validation: DNS1123SubdomainMaxLength. */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253
/** k8s.io/apimachinery/pkg/util/validation: qualifiedNameMaxLength (the name part of a label key). */
export const QUALIFIED_NAME_MAX_LENGTH = 63
/** k8s.io/apimachinery/pkg/util/validation: LabelValueMaxLength. */
export const LABEL_VALUE_MAX_LENGTH = 63

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const UUID_NORMALIZED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A DNS-1123 label: at most 63 characters of [a-z0-9-], starting and ending alphanumeric. */
export function dnsLabelProblems(value: string): string[] {
  const problems: string[] = []
  if (value.length > DNS1123_LABEL_MAX_LENGTH) {
    problems.push(`must be no more than ${DNS1123_LABEL_MAX_LENGTH} characters (DNS label), has ${value.length}`)
  }
  if (!DNS1123_LABEL.test(value)) {
    problems.push(
      "must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'gpu-0')",
    )
  }
  return problems
}

/** A DNS-1123 subdomain: at most 253 characters, dot-separated DNS labels. */
export function dnsSubdomainProblems(value: string): string[] {
  const problems: string[] = []
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    problems.push(`must be no more than ${DNS1123_SUBDOMAIN_MAX_LENGTH} characters (DNS subdomain), has ${value.length}`)
  }
  if (!DNS1123_SUBDOMAIN.test(value)) {
    problems.push(
      "must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. 'gpu.example.com')",
    )
  }
  return problems
}

/**
 * An object name checked as a DNS subdomain (upstream NameIsDNSSubdomain). With `prefix` the value
 * is a `generateName` prefix, which may end in '-' because random characters follow it.
 */
export function objectNameProblems(value: string, prefix = false): string[] {
  const checked = prefix && value.endsWith('-') ? value.slice(0, -1) + 'a' : value
  return dnsSubdomainProblems(checked)
}

/** A C identifier: [A-Za-z_][A-Za-z0-9_]*. Length limits are the caller's (they differ per field). */
export function cIdentifierProblems(value: string): string[] {
  if (C_IDENTIFIER.test(value)) return []
  return ["must be a C identifier: letters, digits and '_', not starting with a digit (e.g. 'productName')"]
}

/**
 * A label key (upstream IsQualifiedName): an optional DNS-subdomain prefix and '/', then a name of
 * at most 63 characters of [A-Za-z0-9-_.] that starts and ends alphanumeric. Also used for taint
 * keys, toleration keys and binding condition types.
 */
export function labelKeyProblems(value: string): string[] {
  const parts = value.split('/')
  let name: string
  const problems: string[] = []
  if (parts.length === 1) {
    name = parts[0]
  } else if (parts.length === 2) {
    const [prefix, rest] = parts
    name = rest
    if (prefix.length === 0) problems.push("the prefix before '/' must not be empty")
    else problems.push(...dnsSubdomainProblems(prefix).map((p) => `the prefix before '/' ${p}`))
  } else {
    return ["must be a name with an optional DNS-subdomain prefix and a single '/' (e.g. 'example.com/my-key')"]
  }
  if (name.length === 0) {
    problems.push('the name part must not be empty')
  } else {
    if (name.length > QUALIFIED_NAME_MAX_LENGTH) {
      problems.push(`the name part must be no more than ${QUALIFIED_NAME_MAX_LENGTH} characters, has ${name.length}`)
    }
    if (!QUALIFIED_NAME_PART.test(name)) {
      problems.push(
        "the name part must consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. 'my-key')",
      )
    }
  }
  return problems
}

/** A label value: empty, or at most 63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric. */
export function labelValueProblems(value: string): string[] {
  const problems: string[] = []
  if (value.length > LABEL_VALUE_MAX_LENGTH) {
    problems.push(`must be no more than ${LABEL_VALUE_MAX_LENGTH} characters (label value), has ${value.length}`)
  }
  if (!LABEL_VALUE.test(value)) {
    problems.push(
      "must be empty or consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit (label value)",
    )
  }
  return problems
}

/** A UUID in RFC 4122 normalized form: 8-4-4-4-12 lowercase hexadecimal digits. */
export function isNormalizedUuid(value: string): boolean {
  return UUID_NORMALIZED.test(value)
}

/**
 * An extended resource name (upstream v1helper.IsExtendedResourceName), as used in
 * DeviceClass.spec.extendedResourceName: it has a domain prefix ('example.com/gpu'), the domain is
 * not kubernetes.io (nor ends in it), it does not start with "requests.", and "requests.<name>" is
 * a valid label key (so the name part is at most 63 characters).
 */
export function extendedResourceNameProblems(value: string): string[] {
  if (!value.includes('/')) {
    return ["must have a domain prefix and '/', e.g. 'example.com/gpu' (names without a domain are native resources)"]
  }
  if (value.includes('kubernetes.io/')) {
    return ["must not use the kubernetes.io domain, which is reserved for native resources"]
  }
  if (value.startsWith('requests.')) {
    return ['must not start with "requests.", which is reserved for quota']
  }
  const problems = labelKeyProblems(`requests.${value}`)
  if (problems.length > 0) {
    return [`must be a domain (DNS subdomain) and '/' and a name of at most ${QUALIFIED_NAME_MAX_LENGTH} characters, e.g. 'example.com/gpu'`]
  }
  return []
}
