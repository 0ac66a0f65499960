import type { Info, Repository } from './types';

export type Tool = 'docker' | 'podman' | 'nerdctl' | 'crane';
export const TOOLS: readonly Tool[] = ['docker', 'podman', 'nerdctl', 'crane'];

/**
 * `prefix`: through Stowage by name (`stowage.example:5000/docker.io/library/alpine:3.20`), works
 * with no client setup. `mirror`: the upstream's own name, for clients configured to use Stowage
 * as their mirror (`registry-mirrors`, containerd `hosts.toml`, registries.conf).
 */
export type Form = 'prefix' | 'mirror';

export function imageReference(info: Pick<Info, 'registry'>, repo: Pick<Repository, 'name' | 'kind' | 'upstream' | 'remoteName'>, form: Form, ref: { tag?: string; digest?: string }): string {
  const at = ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`;
  if (repo.kind === 'cached' && form === 'mirror') return `${repo.upstream}/${repo.remoteName}${at}`;
  return `${info.registry}/${repo.name}${at}`;
}

/** The command for `tool`; over plain HTTP, the tool's flag for an insecure registry (docker reads its daemon.json). */
export function pullCommand(tool: Tool, reference: string, insecure: boolean): string {
  switch (tool) {
    case 'docker':
      return `docker pull ${reference}`;
    case 'podman':
      return `podman pull ${insecure ? '--tls-verify=false ' : ''}${reference}`;
    case 'nerdctl':
      return `nerdctl pull ${insecure ? '--insecure-registry ' : ''}${reference}`;
    case 'crane':
      return `crane pull ${insecure ? '--insecure ' : ''}${reference} image.tar`;
  }
}
