/** The one way the UI talks to Stowage: the JSON API under /api/v1. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  // Mutating calls prove they come from this page (a cross-site form cannot set a header).
  if (method !== 'GET') headers['X-Stowage-CSRF'] = '1';
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`/api/v1/${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Stowage cannot be reached. Check that it is running and try again.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const error = (body as { errors?: Array<{ code: string; message: string }> } | null)?.errors?.[0];
    throw new ApiError(response.status, error?.code ?? 'UNKNOWN', error?.message ?? `Stowage answered ${response.status}`);
  }
  return body as T;
}

/** A path segment for the API: repository names keep their raw `/`; tags and digests are encoded. */
export const repoPath = (name: string): string => name.split('/').map(encodeURIComponent).join('/');
