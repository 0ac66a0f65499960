/**
 * A real load balancer for multi-replica tests and benchmarks: Debian's `nginx` in the foreground
 * (`daemon off`) on a random loopback port with a private prefix, round robin over `upstreams`.
 * The proxy settings a registry needs (docs/deployment.md explains them):
 * - `client_max_body_size 0`: uploads of any size (nginx refuses bodies over 1 MiB by default);
 * - `proxy_request_buffering off`: a PATCH streams to a replica as it arrives (docker push sends
 *   no Content-Length), instead of being spooled to disk first;
 * - `proxy_buffering off`: blob bodies stream to the client at the client's pace;
 * - HTTP/1.1 with keep-alive to the replicas, `Host` and `X-Forwarded-*` passed on.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { answersHttp, freePort, startDaemon, tempDir } from './processes.js';

export interface Nginx {
  /** http://127.0.0.1:PORT */
  url: string;
  host: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startNginx(options: { upstreams: string[]; port?: number }): Promise<Nginx> {
  const dir = await tempDir('nginx');
  const port = options.port ?? (await freePort());
  const servers = options.upstreams.map((u) => `    server ${new URL(u).host} max_fails=0;`).join('\n');
  const conf = join(dir.path, 'nginx.conf');
  await writeFile(conf, `
daemon off;
master_process off;
worker_processes 1;
pid ${dir.path}/nginx.pid;
error_log ${dir.path}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir.path}/client_body;
  proxy_temp_path ${dir.path}/proxy;
  fastcgi_temp_path ${dir.path}/fastcgi;
  uwsgi_temp_path ${dir.path}/uwsgi;
  scgi_temp_path ${dir.path}/scgi;
  upstream stowage {
${servers}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    chunked_transfer_encoding on;
    location / {
      proxy_pass http://stowage;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_read_timeout 600s;
      proxy_send_timeout 600s;
    }
  }
}
`);
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startDaemon({
    name: 'nginx',
    command: 'nginx',
    args: ['-p', dir.path, '-c', conf, '-e', join(dir.path, 'error.log')],
    ready: () => answersHttp(`${url}/nginx-ready-probe`),
    readyTimeoutMs: 10_000,
  });
  return {
    url,
    host: `127.0.0.1:${port}`,
    pid: daemon.pid,
    async stop() {
      await daemon.stop(2000);
      await dir.remove();
    },
  };
}
