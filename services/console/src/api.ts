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

async function failure(resp: Response): Promise<ApiError> {
  const text = await resp.text();
  let json: any = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return new ApiError(resp.status, json?.error || `http_${resp.status}`,
                      json?.message || resp.statusText || text.slice(0, 200), json?.fields || []);
}

/** POSTs a file as the whole body with its own Content-Type (a customer's photo; the proof is
 *  in the path's query, so no staff credentials are sent). */
export async function upload<T = any>(path: string, file: Blob, type: string): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(path, { method: "POST", body: file, cache: "no-store", credentials: "same-origin",
                               headers: { Accept: "application/json", "Content-Type": type } });
  } catch (e) {
    throw new ApiError(0, "network", String(e));
  }
  if (!resp.ok) throw await failure(resp);
  return (await resp.json()) as T;
}

/** A binary resource (a case's photo) read with the staff session's credentials, as a Blob an
 *  <img> shows through URL.createObjectURL (the page's CSP allows blob: images only from here). */
export async function fetchBlob(path: string, signal?: AbortSignal): Promise<Blob> {
  let resp: Response;
  try {
    resp = await fetch(path, { headers: authHeaders(), credentials: "same-origin", cache: "no-store", signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", String(e));
  }
  if (!resp.ok) throw await failure(resp);
  return resp.blob();
}
