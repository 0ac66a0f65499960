/**
 * A real Redis for tests and benchmarks: Debian's `redis-server` in the foreground on a random
 * loopback port, no persistence, tracked and killed by PID. Ready in ~30 ms. `pause`/`resume`
 * (SIGSTOP/SIGCONT) and `stop` let a test take Redis away from Stowage and give it back.
 */
import { connect } from 'node:net';
import { freePort, startDaemon, tempDir } from './processes.js';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  pid: number;
  /** Freezes the process (connections hang, as with a network partition); `resume` thaws it. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** True when a PING on a fresh connection answers +PONG within 1 s. */
export function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export async function startRedis(options: { port?: number } = {}): Promise<RedisServer> {
  const dir = await tempDir('redis');
  const port = options.port ?? (await freePort());
  const daemon = await startDaemon({
    name: 'redis-server',
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no'],
    ready: () => redisAnswers(port),
    readyTimeoutMs: 10_000,
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: daemon.pid,
    pause: () => process.kill(daemon.pid, 'SIGSTOP'),
    resume: () => process.kill(daemon.pid, 'SIGCONT'),
    async stop() {
      try {
        process.kill(daemon.pid, 'SIGCONT'); // a paused server cannot act on SIGTERM
      } catch {
        // already gone
      }
      await daemon.stop(2000);
      await dir.remove();
    },
  };
}
