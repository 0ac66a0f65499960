#!/usr/bin/env node
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config/load-config.js';

/** Command line: `stowage [--config FILE]`. Starts the server and drains it on SIGTERM/SIGINT. */
async function main(argv: string[]): Promise<void> {
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
