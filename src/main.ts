#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4 (MiB): V8 otherwise grows the young generation to 3 × 16 MiB under the
// allocation rate of streaming, for no gain here: with 4 MiB the peak RSS of 20 clients on one fill
// is ~25 MiB lower and manifest throughput the same (docs/benchmarks.md). `npm start`, the
// Dockerfile and the bench pass it too; plain `node dist/main.js` works, with the larger default.
import { buildApp } from './app.js';
import { prefetchCommand } from './cli/prefetch-command.js';
import { ConfigError, loadConfig } from './config/load-config.js';

/**
 * Command line: `stowage [--config FILE]` starts the server and drains it on SIGTERM/SIGINT;
 * `stowage prefetch [--url URL] [REF…]` asks a running server to prefetch (cli/prefetch-command.ts).
 */
async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'prefetch') {
    process.exitCode = await prefetchCommand(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
    return;
  }
  const flag = argv.indexOf('--config');
  const file = flag >= 0 ? argv[flag + 1] : undefined;
  let config;
  try {
    config = loadConfig(file === undefined ? {} : { file });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`stowage: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const app = await buildApp(config);
  await app.server.listen({ host: config.server.host, port: config.server.port });
  if (app.ops) await app.ops.server.listen(app.ops.address);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal, drainTimeout: config.server.drainTimeout }, 'shutting down: draining in-flight requests');
    await app.shutdown();
    app.logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`stowage: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
