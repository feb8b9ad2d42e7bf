/** The HTTP endpoints of SPEC.md the page uses. */

export interface PixelInfo {
  x: number;
  y: number;
  c: number;
  user: { name: string } | null;
  at_ms: number | null;
}

export interface Stats {
  ccu: number;
  peak_ccu?: number;
  users?: number;
  visits?: number;
  placements?: number;
  peak_pps?: number;
}

async function getJson<T>(path: string, signal?: AbortSignal, timeoutMs = 8000): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const res = await fetch(path, {
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    headers: { accept: 'application/json' },
    cache: 'no-store',
  });
  if (!res.ok) {
    let detail = '';
    try {
      detail = ((await res.json()) as { error?: string }).error ?? '';
    } catch {
      // not JSON
    }
    throw new Error(`${path}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`);
  }
  return (await res.json()) as T;
}

/** `GET /api/config`: the hello object without t, user and next_place_at_ms; maybe an `auth` field. */
export function fetchConfig(signal?: AbortSignal): Promise<Record<string, unknown>> {
  return getJson('/api/config', signal);
}

/** `GET /api/pixel?x=&y=`: who placed a pixel last, and when. */
export function fetchPixel(x: number, y: number, signal?: AbortSignal): Promise<PixelInfo> {
  return getJson(`/api/pixel?x=${x}&y=${y}`, signal);
}

/** `GET /api/stats`. */
export function fetchStats(signal?: AbortSignal): Promise<Stats> {
  return getJson('/api/stats', signal);
}
