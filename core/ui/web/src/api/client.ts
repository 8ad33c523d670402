// Typed API client: openapi-fetch over the types openapi-typescript generates from the platform's own
// /openapi.json (archestra-platform --print-openapi at build time), so a renamed field is a type error.
import createClient from "openapi-fetch";
import type { paths } from "./generated/schema";

/// Same origin as the UI: port 3000 forwards /api, /v1 and /health to the API router, so the session cookie
/// travels without CORS.
export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

/// An API answer that was not 2xx; `message` is the platform's `error.message` (it names the field).
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const unauthenticatedListeners = new Set<() => void>();
/// Called when any call answers 401 (session expired or signed out elsewhere).
export function onUnauthenticated(listener: () => void) {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

function failure(status: number, error: unknown): ApiFailure {
  const message =
    (error as { error?: { message?: string } } | undefined)?.error?.message ??
    (typeof error === "string" && error ? error : `Request failed with status ${status}`);
  if (status === 401) unauthenticatedListeners.forEach((l) => l());
  return new ApiFailure(message, status);
}

/// Resolves a typed call to its data or throws ApiFailure with the platform's message.
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw failure(response.status, error);
  return data as T;
}

/// For routes another module is still adding (not yet in the generated document): same conventions, untyped.
export async function raw<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // plain text answer
  }
  if (!response.ok) throw failure(response.status, parsed);
  return parsed as T;
}
