// The public API base URL agents should use (ARCHESTRA_API_BASE_URL), read once from /openapi.json's servers.
let cached: Promise<string> | undefined;

export function apiBaseUrl(): Promise<string> {
  cached ??= fetch("/openapi.json")
    .then((r) => r.json())
    .then((doc: { servers?: { url?: string }[] }) => (doc.servers?.[0]?.url || location.origin).replace(/\/+$/, ""))
    .catch(() => location.origin);
  return cached;
}
