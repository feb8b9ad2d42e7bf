/**
 * `window.__place`: a small read-only window into the page for end-to-end tests and for people
 * debugging in the console (pixel colours as drawn, connection status, view). Not an API.
 */

type Parts = Record<string, unknown>;

declare global {
  interface Window {
    __place?: Parts;
  }
}

export function exposeDebug(parts: Parts): void {
  if (typeof window === 'undefined') return;
  window.__place = Object.assign(window.__place ?? {}, parts);
}
