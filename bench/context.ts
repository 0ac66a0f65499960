/**
 * What every figure of a benchmark run shares: the options, the upstream (hub) and its images, how
 * to start a subject, and where results go. Figures add rows to `rows` and raw samples to `raw`.
 */
import type { Transfer } from './clients.js';
import type { Row } from './report.js';
import type { SeededImages } from './seed.js';
import type { Hub, Server } from './subjects.js';

export type Kind = 'stowage' | 'reference';
export const KINDS: Kind[] = ['stowage', 'reference'];

/** Alternates which subject goes first, round by round. */
export const ordered = (round: number): Kind[] => (round % 2 === 0 ? KINDS : [...KINDS].reverse());

/** The Accept header `docker pull` sends for manifests. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export interface BenchOptions {
  /** Figures to run ('1'…'12'). */
  only: Set<string>;
  rounds: { cold: number; link: number; warm: number; push: number; startup: number };
  wrkSeconds: number;
  /** Clients in figure 3. */
  clients: number;
  /** Blobs on disk in figure 7. */
  cachedBlobs: number;
  /** Where figure 7's cache is written; default /dev/shm. */
  startupDir: string | undefined;
  logLevel: string;
  strict: boolean;
}

/** `--quick`, `--only 1,2`, `--log-level warn`, `--blobs N`, `--startup-dir DIR`, `--strict`. */
export function parseOptions(argv: string[]): BenchOptions {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    only: new Set((flag('--only') ?? '1,2,3,4,6,7,8,9,10,11,12').split(',').map((s) => s.trim())),
    rounds: { cold: quick ? 2 : 3, link: quick ? 1 : 2, warm: quick ? 3 : 7, push: quick ? 1 : 2, startup: 3 },
    wrkSeconds: quick ? 5 : 10,
    clients: 20,
    cachedBlobs: Number(flag('--blobs') ?? 100_000),
    startupDir: flag('--startup-dir'),
    logLevel: flag('--log-level') ?? 'warn',
    strict: argv.includes('--strict'),
  };
}

export interface Bench {
  options: BenchOptions;
  hub: Hub;
  images: SeededImages;
  /** A fresh subject pulling through the hub. */
  startSubject(kind: Kind): Promise<Server>;
  log(line: string): void;
  rows: Row[];
  raw: Record<string, unknown>;
}

export const blobUrl = (server: { url: string }, images: SeededImages): string =>
  `${server.url}/v2/${images.big.repository}/blobs/${images.big.layerDigest}`;

/** Throws unless the transfer was a 200 with exactly `size` bytes. */
export function checkTransfer(what: string, t: Transfer, size: number): Transfer {
  if (t.status !== 200 || t.bytes !== size) throw new Error(`${what}: status ${t.status}, ${t.bytes} of ${size} bytes`);
  return t;
}
