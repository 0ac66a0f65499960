/**
 * Whether JSON text nests objects and arrays deeper than `limit`, found in one pass over the bytes
 * before anything parses them. V8's JSON.parse copes with any depth, but what we do with the value
 * afterwards — JSON.stringify of a referrer descriptor, a structural walk — recurses and would
 * overflow the stack on a manifest nested 10,000 levels deep. Brackets inside strings do not count;
 * the text need not be valid JSON (the parser judges that).
 */
export function jsonNestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === 0x5c) i++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}
