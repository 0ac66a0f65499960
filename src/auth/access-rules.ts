import type { AccessRuleConfig } from '../config/config.js';
import { compileNamePattern } from '../registry/name-pattern.js';
import { ACTIONS, type Action } from './access-control.js';

interface Rule {
  repos: RegExp[];
  users: ReadonlySet<string>;
  actions: ReadonlySet<Action>;
}

const NONE: ReadonlySet<Action> = new Set();
const ALL: ReadonlySet<Action> = new Set(ACTIONS);

/**
 * `auth.admins` and `auth.access`. Rules only grant: the actions a user has on a repository are the
 * union of every matching rule's. A rule's `users` are user names, `*` (any signed-in user) and
 * `anonymous` (no credentials); `repos` are the `hosted` globs, matched against canonical names
 * (`docker.io/library/alpine` for a proxied repository, however the client addressed it).
 */
export class AccessRules {
  private readonly rules: Rule[];
  private readonly admins: ReadonlySet<string>;
  /** Whether anything at all is granted to anonymous callers (then they may list the catalog too). */
  readonly anonymousRules: boolean;

  constructor(rules: readonly AccessRuleConfig[], admins: readonly string[]) {
    this.admins = new Set(admins);
    this.rules = rules.map((rule) => ({
      repos: rule.repos.map(compileNamePattern),
      users: new Set(rule.users),
      actions: new Set(rule.actions.flatMap((action) => (action === '*' ? ACTIONS : [action as Action]))),
    }));
    this.anonymousRules = this.rules.some((rule) => rule.users.has('anonymous'));
  }

  isAdmin(user: string | null): boolean {
    return user !== null && this.admins.has(user);
  }

  /** The actions `user` (null: anonymous) has on the repository named `canonicalName`. */
  actions(user: string | null, canonicalName: string): ReadonlySet<Action> {
    if (this.isAdmin(user)) return ALL;
    let granted: Set<Action> | null = null;
    for (const rule of this.rules) {
      if (!this.appliesTo(rule, user) || !rule.repos.some((pattern) => pattern.test(canonicalName))) continue;
      granted ??= new Set();
      for (const action of rule.actions) granted.add(action);
    }
    return granted ?? NONE;
  }

  /** `actions(…).has(action)` without building the set: this runs on every request. */
  allows(user: string | null, action: Action, canonicalName: string): boolean {
    if (this.isAdmin(user)) return true;
    return this.rules.some((rule) => rule.actions.has(action) && this.appliesTo(rule, user) && rule.repos.some((pattern) => pattern.test(canonicalName)));
  }

  private appliesTo(rule: Rule, user: string | null): boolean {
    if (user === null) return rule.users.has('anonymous');
    return rule.users.has('*') || rule.users.has(user);
  }
}
