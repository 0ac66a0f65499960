/**
 * A real S3-compatible object store for tests and benchmarks: a single-node Ceph cluster (one
 * monitor, one OSD on memstore, one RADOS gateway) from Debian's `ceph-mon`, `ceph-osd` and
 * `radosgw`, started as our own foreground processes on loopback, tracked and killed by PID.
 * Recipe and pitfalls: ../shared/object-store.md. Starts in about 10 s; objects live in the OSD's
 * RAM (memstore, capped by `memoryBytes`), so keep test objects small and delete what you store.
 *
 *   DIR/ceph.conf  DIR/monmap  DIR/mon/  DIR/osd0/  DIR/rgw/  DIR/run/  DIR/log/
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { answersHttp, freePort, runChecked, startDaemon, tempDir, waitFor, type Daemon } from './processes.js';

export interface CephRgw {
  /** http://127.0.0.1:PORT — the S3 endpoint (path-style). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** PIDs of the monitor, the OSD and the gateway (for tests that kill or pause the store). */
  pids: { mon: number; osd: number; rgw: number };
  stop(): Promise<void>;
}

export const CEPH_TOOLS = ['monmaptool', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph'] as const;

export async function startCephRgw(options: { memoryBytes?: number } = {}): Promise<CephRgw> {
  const dir = await tempDir('ceph');
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(dir.path, 'ceph.conf');
  const c = ['-c', conf];
  await Promise.all(['run', 'log', 'mon', 'rgw'].map((d) => mkdir(join(dir.path, d))));
  await writeFile(conf, [
    '[global]',
    `fsid = ${fsid}`,
    `mon_host = v2:127.0.0.1:${monPort}`,
    'mon_initial_members = a',
    'auth_cluster_required = none',
    'auth_service_required = none',
    'auth_client_required = none',
    'ms_bind_msgr1 = false',
    // Without these, radosgw with auth "none" loops on `get_initial_auth_request returned -13`.
    'ms_mon_client_mode = crc secure',
    'ms_client_mode = crc secure',
    `run_dir = ${dir.path}/run`,
    `admin_socket = ${dir.path}/run/$name.asok`,
    `pid_file = ${dir.path}/run/$name.pid`,
    `log_file = ${dir.path}/log/$name.log`,
    'osd_pool_default_size = 1',
    'osd_pool_default_min_size = 1',
    'osd_pool_default_pg_num = 8',
    'osd_pool_default_pg_autoscale_mode = off',
    'osd_crush_chooseleaf_type = 0',
    'mon_allow_pool_size_one = true',
    'mon_warn_on_pool_no_redundancy = false',
    '[mon]',
    `mon_data = ${dir.path}/mon/$name`,
    '[osd]',
    `osd_data = ${dir.path}/osd$id`,
    'osd_objectstore = memstore',
    `memstore_device_bytes = ${options.memoryBytes ?? 4 * 1024 ** 3}`,
    '[client.rgw.a]',
    `rgw_frontends = beast endpoint=127.0.0.1:${rgwPort}`,
    `rgw_data = ${dir.path}/rgw`,
    '',
  ].join('\n'));

  const daemons: Daemon[] = [];
  const stop = async (): Promise<void> => {
    for (const daemon of daemons.reverse()) await daemon.stop(3000);
    daemons.length = 0;
    await dir.remove();
  };
  const ceph = (args: string[], timeoutMs = 20_000) => runChecked('ceph', [...c, ...args], { timeoutMs });
  try {
    await runChecked('monmaptool', [...c, '--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir.path, 'monmap')], { timeoutMs: 10_000 });
    await runChecked('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir.path, 'monmap')], { timeoutMs: 20_000 });
    const mon = await startDaemon({
      name: 'ceph-mon',
      command: 'ceph-mon',
      args: [...c, '-i', 'a', '-f'],
      ready: async () => (await ceph(['mon', 'stat'], 5_000)).stdout.includes('quorum'),
      readyTimeoutMs: 30_000,
    });
    daemons.push(mon);

    const uuid = randomUUID();
    const id = (await ceph(['osd', 'new', uuid])).stdout.trim();
    await mkdir(join(dir.path, `osd${id}`));
    await runChecked('ceph-osd', [...c, '-i', id, '--mkfs', '--osd-uuid', uuid], { timeoutMs: 30_000 });
    const osd = await startDaemon({
      name: 'ceph-osd',
      command: 'ceph-osd',
      args: [...c, '-i', id, '-f'],
      ready: async () => (await ceph(['osd', 'stat', '-f', 'json'], 5_000)).stdout.includes('"num_up_osds":1'),
      readyTimeoutMs: 60_000,
    });
    daemons.push(osd);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const rgw = await startDaemon({
      name: 'radosgw',
      command: 'radosgw',
      args: [...c, '-n', 'client.rgw.a', '-f'],
      ready: () => answersHttp(`${endpoint}/`, (status) => status === 200),
      readyTimeoutMs: 90_000,
    });
    daemons.push(rgw);

    const accessKeyId = `AK${randomUUID().replace(/-/g, '').slice(0, 18).toUpperCase()}`;
    const secretAccessKey = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
    await runChecked('radosgw-admin', [...c, 'user', 'create', '--uid=stowage', '--display-name=stowage', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`], { timeoutMs: 30_000 });
    // The user is known to the gateway once an authenticated request stops failing; give it a moment.
    await waitFor(() => answersHttp(`${endpoint}/`), { timeoutMs: 10_000, description: 'radosgw after user creation' });
    return { endpoint, accessKeyId, secretAccessKey, region: 'us-east-1', pids: { mon: mon.pid, osd: osd.pid, rgw: rgw.pid }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
