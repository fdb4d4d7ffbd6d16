// The JSON API at the same origin (the front door). Every call goes through `call`, which
// returns the parsed body or throws ApiError with the API's error code, message and fields.
import { authHeaders } from "./auth";

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string,
              public fields: { field: string; problem: string }[] = []) {
    super(message);
  }
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  staff?: boolean;           // send the staff session's credentials
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function call<T = any>(path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...(opts.headers || {}) };
  if (opts.staff) Object.assign(headers, authHeaders());
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let resp: Response;
  try {
    resp = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal,
                               credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", String(e));
  }
  const text = await resp.text();
  let json: any = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
  if (!resp.ok) {
    throw new ApiError(resp.status, json?.error || `http_${resp.status}`,
                       json?.message || resp.statusText || text.slice(0, 200), json?.fields || []);
  }
  return json as T;
}

/** A random key for Idempotency-Key. getRandomValues works outside secure contexts too. */
export function randomKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The `token` query parameter of a customer link such as .../v1/complaints/NO?token=T. */
export function tokenOfLink(link: string): string {
  try {
    return new URL(link, location.href).searchParams.get("token") || "";
  } catch {
    return "";
  }
}
