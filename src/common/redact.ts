// Connection URLs for messages and logs: the password replaced, so that a log line never carries it.

/** `url` without its password (PostgreSQL, Redis URLs); `unparsable` when it does not parse. */
export function redactUrl(url: string, unparsable = '(invalid URL)'): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return unparsable
  }
}
