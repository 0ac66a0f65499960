/**
 * Repository name globs from config: `*` matches one path component, `**` one or more.
 * `team/**` matches `team/app` and `team/a/b`, not `team` itself.
 */
export function compileNamePattern(pattern: string): RegExp {
  const source = pattern
    .split('/')
    .map((part) => (part === '**' ? '.+' : part.split('*').map(escape).join('[^/]+')))
    .join('/');
  return new RegExp(`^${source}$`);
}

const escape = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

export class NamePatterns {
  private readonly patterns: RegExp[];
  constructor(globs: readonly string[]) {
    this.patterns = globs.map(compileNamePattern);
  }
  matches(name: string): boolean {
    return this.patterns.some((p) => p.test(name));
  }
}
