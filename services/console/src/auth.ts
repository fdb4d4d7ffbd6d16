// The staff session. Today a staff member signs in with their bearer token, kept in
// sessionStorage (this tab only, gone when it closes) and sent as Authorization on each call.
//
// The seam for the next step (password login with libsodium's crypto_pwhash on the server, or
// the carrier's OpenID Connect provider): a new SignIn method that POSTs to the session endpoint
// and gets an HttpOnly SameSite cookie back. Then `authHeaders()` returns {} (the browser sends
// the cookie) and `session.get()` holds only the staff id and role the server reported; no page
// changes, because pages only ever call `authHeaders()`, `signedIn()` and `signOut()`.
import { signal } from "./state";

export interface Session {
  method: "bearer";          // later: "password" | "oidc" (cookie sessions)
  token: string;
}

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

export const session = signal<Session | null>(load());

export function signInWithToken(token: string) {
  const s: Session = { method: "bearer", token: token.trim() };
  try { sessionStorage.setItem(KEY, JSON.stringify(s)); } catch { /* kept in memory only */ }
  session.set(s);
}

export function signOut() {
  try { sessionStorage.removeItem(KEY); } catch { /* nothing stored */ }
  session.set(null);
}

export function signedIn(): boolean {
  return session.get() !== null;
}

export function authHeaders(): Record<string, string> {
  const s = session.get();
  return s ? { Authorization: `Bearer ${s.token}` } : {};
}
