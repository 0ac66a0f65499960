import type { Digest } from '../oci/digest.js';
import type { Tag } from '../oci/reference.js';
import { compileNamePattern } from '../registry/name-pattern.js';
import type { TagRecord } from '../storage/metadata-store.js';

/** One `retention[]` entry of the config (config.ts). */
export interface RetentionRuleConfig {
  /** Hosted repository name patterns (`team/**`). */
  repos: string[];
  /** Tag globs (`v*`, `latest`) that are always kept. */
  keepTags: string[];
  /** Plus this many of the other tags, the most recently pushed. */
  keepLast: number;
  /** The rest are untagged once older than this (ms since pushed); null: as soon as keepLast leaves them out. */
  olderThan: number | null;
  /** Manifests no tag reaches (index children and referrers of kept manifests excepted) are deleted. */
  deleteUntagged: boolean;
}

export interface TaggedRecord {
  tag: Tag;
  record: TagRecord;
}

/** What a rule decides for one repository's tags. */
export interface RetentionDecision {
  /** Real tags to untag (referrer-schema tags are decided by their subject, in the mark). */
  untag: TaggedRecord[];
  deleteUntagged: boolean;
}

/**
 * Retention rules, applied by a GC run to hosted repositories. The first rule whose `repos` match
 * a repository applies to it; a repository no rule matches keeps every tag and every manifest.
 * `keepLast` and `olderThan` count per repository from when each tag took its digest
 * (`TagRecord.updatedAt`). Referrer-schema tags — `sha256-<hex>` (the referrers tag) and cosign's
 * `sha256-<hex>.sig` / `.att` / `.sbom` — are never counted or aged here: they follow their subject.
 */
export class RetentionRules {
  private readonly rules: Array<{ repos: RegExp[]; keepTags: RegExp[]; config: RetentionRuleConfig }>;

  constructor(rules: readonly RetentionRuleConfig[]) {
    this.rules = rules.map((config) => ({
      repos: config.repos.map(compileNamePattern),
      keepTags: config.keepTags.map(compileTagGlob),
      config,
    }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The decision for the hosted repository `name` with these tags; null when no rule matches it. */
  decide(name: string, tags: readonly TaggedRecord[], now: number): RetentionDecision | null {
    const rule = this.rules.find((r) => r.repos.some((p) => p.test(name)));
    if (!rule) return null;
    const { keepLast, olderThan, deleteUntagged } = rule.config;
    const others = tags
      .filter((t) => referrerTagSubject(t.tag) === null && !rule.keepTags.some((p) => p.test(t.tag)))
      // Most recently pushed first; equal times by name, so the choice is stable run to run.
      .sort((a, b) => b.record.updatedAt - a.record.updatedAt || (a.tag < b.tag ? -1 : 1));
    const candidates = others.slice(keepLast);
    // Neither a count nor an age: the rule keeps every tag (it may still delete untagged manifests).
    if (olderThan === null && keepLast === 0) return { untag: [], deleteUntagged };
    const untag = olderThan === null ? candidates : candidates.filter((t) => now - t.record.updatedAt > olderThan);
    return { untag, deleteUntagged };
  }
}

const REFERRER_TAG = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(?:\.(?:sig|att|sbom))?$/;

/**
 * The subject a referrer-schema tag is about, as a digest prefix (`sha256:<hex>`): the referrers
 * tag cuts a sha512 to 64 hex characters, so a prefix is all it says. Null for any other tag.
 */
export function referrerTagSubject(tag: string): string | null {
  const match = REFERRER_TAG.exec(tag);
  return match ? `${match[1]}:${match[2]}` : null;
}

/** Whether `digest` is the subject `prefix` (from referrerTagSubject) names. */
export const isSubject = (digest: Digest, prefix: string): boolean => digest.startsWith(prefix);

/** A tag glob: `*` any characters, `?` one; everything else literal. */
export function compileTagGlob(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`);
}
