import { expect } from 'vitest';
import { ConfigError } from '../../src/config/load-config.js';

/** The message of the ConfigError `fn` throws; fails the test if it throws anything else or nothing. */
export function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}
