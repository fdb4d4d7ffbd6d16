// The staff session. Staff sign in with their staff id and password: classification answers
// with an HttpOnly, SameSite=Strict session cookie (never readable here) and the session's CSRF
// token, which every state-changing call echoes in X-CSRF-Token. Integrations (and whoever
// prefers it) may still sign in with a bearer token, kept in sessionStorage (this tab only) and
// sent as Authorization.
//
// The seam for the carrier's OpenID Connect provider: its callback ends in the same cookie
// session on the server (see services/classification/signin.h), so here it is one more way to
// reach `probeSession()`; no page changes, because pages only call `authHeaders()`,
// `signedIn()` and `signOut()`.
import { signal } from "./state";

export type Session =
  | { method: "bearer"; token: string }
  | { method: "cookie"; staffId: string; role: string; csrf: string };

const KEY = "cp.staff.session";

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    return s && s.method === "bearer" && typeof s.token === "string" ? s : null;
  } catch {
    return null;
  }
}

/** The session's CSRF cookie (readable by our pages, unlike the session cookie itself): its
 *  presence says a cookie session may exist, so pages of a browser that never signed in (every
 *  customer's) do not ask the server at all. */
function csrfCookie(): string {
  const m = document.cookie.match(/(?:^|;\s*)cp_csrf=([0-9a-f]+)/);
  return m ? m[1] : "";
}

export const session = signal<Session | null>(load());
/** False until the server said whether this browser holds a cookie session. */
export const sessionKnown = signal<boolean>(session.get() !== null || !csrfCookie());

export function signInWithToken(token: string) {
  const s: Session = { method: "bearer", token: token.trim() };
  try { sessionStorage.setItem(KEY, JSON.stringify(s)); } catch { /* kept in memory only */ }
  session.set(s);
}

interface SessionReply { staff_id: string; role: string; via: string; csrf_token?: string }

function adopt(r: SessionReply) {
  session.set({ method: "cookie", staffId: r.staff_id, role: r.role, csrf: r.csrf_token || "" });
  sessionKnown.set(true);
}

/** Signs in with a password. Resolves, or rejects with the fetch Response of a refusal. */
export async function signInWithPassword(staffId: string, password: string): Promise<void> {
  const resp = await fetch("/v1/auth/session", {
    method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ staff_id: staffId, password }),
  });
  if (!resp.ok) throw resp;
  adopt(await resp.json());
}

/** Asks the server whether the cookie (if any) is a live session; a page reload lands here. */
export async function probeSession(): Promise<void> {
  try {
    const resp = await fetch("/v1/auth/session", { credentials: "same-origin", cache: "no-store",
                                                    headers: { Accept: "application/json" } });
    if (resp.ok) {
      const r: SessionReply = await resp.json();
      if (r.via === "session") return adopt(r);
    }
  } catch { /* offline: not signed in as far as this page knows */ }
  sessionKnown.set(true);
}

export function signOut() {
  const s = session.get();
  try { sessionStorage.removeItem(KEY); } catch { /* nothing stored */ }
  if (s && s.method === "cookie") {
    // the server revokes the session in every service and clears the cookies
    fetch("/v1/auth/session", { method: "DELETE", credentials: "same-origin",
                                headers: { "X-CSRF-Token": s.csrf } }).catch(() => undefined);
  }
  session.set(null);
}

export function signedIn(): boolean {
  return session.get() !== null;
}

export function authHeaders(): Record<string, string> {
  const s = session.get();
  if (!s) return {};
  return s.method === "bearer" ? { Authorization: `Bearer ${s.token}` } : { "X-CSRF-Token": s.csrf };
}

if (!sessionKnown.get()) probeSession();
