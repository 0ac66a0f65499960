/**
 * What the UI shows of an image configuration (the config blob of an image manifest): the fields
 * people look for, read defensively — a config is upstream data and any field may be missing or
 * of the wrong type, which must never fail a page.
 */
export interface ImageConfigSummary {
  created: string | null;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  author: string | null;
  user: string | null;
  workingDir: string | null;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  labels: Record<string, string>;
  exposedPorts: string[];
  history: Array<{ created: string | null; createdBy: string | null; comment: string | null; emptyLayer: boolean }>;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strList = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Null when the bytes are not a JSON object. */
export function parseImageConfig(bytes: Uint8Array): ImageConfigSummary | null {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return null;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const root = json as Record<string, unknown>;
  const config = obj(root.config);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(config.Labels))) if (typeof v === 'string') labels[k] = v;
  return {
    created: str(root.created),
    os: str(root.os),
    architecture: str(root.architecture),
    variant: str(root.variant),
    author: str(root.author),
    user: str(config.User) || null,
    workingDir: str(config.WorkingDir) || null,
    env: strList(config.Env) ?? [],
    entrypoint: strList(config.Entrypoint),
    cmd: strList(config.Cmd),
    labels,
    exposedPorts: Object.keys(obj(config.ExposedPorts)),
    history: (Array.isArray(root.history) ? root.history : []).map((h) => {
      const entry = obj(h);
      return {
        created: str(entry.created),
        createdBy: str(entry.created_by),
        comment: str(entry.comment),
        emptyLayer: entry.empty_layer === true,
      };
    }),
  };
}
