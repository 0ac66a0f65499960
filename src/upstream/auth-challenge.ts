/**
 * Parsing of `WWW-Authenticate` (RFC 9110 §11.6.1) as registries send it:
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"
 *   Basic realm="Registry Realm"
 *
 * Several challenges may share one header (`Bearer realm="a", Basic realm="b"`), and quoted values
 * may contain commas (`scope="repository:a:pull,push"`) and escaped quotes. Parameter names are
 * case-insensitive; values are kept as sent.
 */
export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`, ... */
  scheme: string;
  params: Record<string, string>;
}

export interface BearerChallenge {
  realm: URL;
  service: string | null;
  /** The scope the registry says it wants, when it says (`repository:NAME:pull`). */
  scope: string | null;
  /** `invalid_token`, `insufficient_scope`, ... when present. */
  error: string | null;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parses every challenge in the header(s); malformed trailing input is ignored, never thrown. */
export function parseAuthChallenges(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  return values.flatMap(parseOneHeader);
}

/** The Bearer challenge with a usable absolute http(s) realm, or null. */
export function findBearerChallenge(challenges: AuthChallenge[]): BearerChallenge | null {
  for (const challenge of challenges) {
    if (challenge.scheme !== 'bearer') continue;
    const realm = challenge.params.realm;
    if (realm === undefined) continue;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      continue;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') continue;
    return {
      realm: url,
      service: challenge.params.service ?? null,
      scope: challenge.params.scope ?? null,
      error: challenge.params.error ?? null,
    };
  }
  return null;
}

export const hasBasicChallenge = (challenges: AuthChallenge[]): boolean => challenges.some((c) => c.scheme === 'basic');

class Cursor {
  index = 0;
  constructor(readonly text: string) {}
  get done(): boolean {
    return this.index >= this.text.length;
  }
  peek(): string {
    return this.text[this.index] ?? '';
  }
  skipWhitespace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.index++;
  }
  skipSeparators(): void {
    while (this.peek() === ',' || this.peek() === ' ' || this.peek() === '\t') this.index++;
  }
  token(): string {
    const start = this.index;
    while (!this.done && TOKEN_CHAR.test(this.peek())) this.index++;
    return this.text.slice(start, this.index);
  }
  /** A quoted-string with backslash escapes; the opening quote is at the cursor. */
  quoted(): string {
    this.index++; // opening quote
    let value = '';
    while (!this.done) {
      const ch = this.peek();
      this.index++;
      if (ch === '\\') {
        value += this.peek();
        this.index++;
      } else if (ch === '"') {
        return value;
      } else {
        value += ch;
      }
    }
    return value; // unterminated: take what there is
  }
}

function parseOneHeader(text: string): AuthChallenge[] {
  const cursor = new Cursor(text);
  const challenges: AuthChallenge[] = [];
  let current: AuthChallenge | null = null;

  while (true) {
    cursor.skipSeparators();
    if (cursor.done) break;
    const start = cursor.index;
    const word = cursor.token();
    if (word === '') break; // unparseable character: stop rather than guess
    cursor.skipWhitespace();

    if (cursor.peek() === '=') {
      // `name=value` belongs to the current challenge (token68 values are not used by registries).
      cursor.index++;
      cursor.skipWhitespace();
      const value = cursor.peek() === '"' ? cursor.quoted() : cursor.token();
      if (current) current.params[word.toLowerCase()] = value;
      continue;
    }
    // A bare token starts a new challenge: the auth scheme.
    if (cursor.index === start) break;
    current = { scheme: word.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;
}
