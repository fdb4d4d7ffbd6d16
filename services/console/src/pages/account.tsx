// A staff member's password: changing one's own (the old one is required; the server signs one's
// other sessions out) and, for admins, setting anyone's password and role. Passwords go only in
// request bodies, never in a URL, and no field is remembered by the page.
import { useState } from "preact/hooks";
import { ApiError, call } from "../api";
import { session } from "../auth";
import { fmtTime, t } from "../i18n";
import { ErrorBox, Loading, Shell, useLoad } from "../ui";

const staffCall = <T,>(path: string, opts: Parameters<typeof call>[1] = {}) => call<T>(path, { ...opts, staff: true });
const MIN = 10;
const CRED_ROLES = ["agent", "supervisor", "admin"];

function chars(s: string): number {
  return Array.from(s).length;
}

export function ChangePassword() {
  const [f, setF] = useState({ old: "", pw: "", again: "" });
  const [problem, setProblem] = useState<{ field: string; text: string } | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const s = session.get();
  const set = (k: string) => (e: Event) => { setF({ ...f, [k]: (e.target as HTMLInputElement).value }); setProblem(null); };
  const invalid = (k: string) => problem?.field === k || undefined;
  const described = (k: string, hint?: string) =>
    [problem?.field === k ? "pw-err" : "", hint || ""].filter(Boolean).join(" ") || undefined;
  return (
    <Shell title={t("password.title")} staff>
      <h1>{t("password.title")}</h1>
      {s && s.method === "cookie" && <p>{t("password.who", { id: s.staffId })}</p>}
      <form class="card narrow-card" noValidate aria-busy={busy || undefined} onSubmit={async (e) => {
        e.preventDefault();
        setDone(false);
        if (!f.old) return setProblem({ field: "old", text: t("password.need_old") });
        if (chars(f.pw) < MIN) return setProblem({ field: "pw", text: t("password.too_short", { n: MIN }) });
        if (f.pw !== f.again) return setProblem({ field: "again", text: t("password.mismatch") });
        setBusy(true);
        try {
          await staffCall("/v1/auth/password", { method: "PUT", body: { old_password: f.old, new_password: f.pw } });
          setF({ old: "", pw: "", again: "" });
          setDone(true);
        } catch (x) {
          const code = x instanceof ApiError ? x.code : "";
          setProblem(code === "wrong_password" ? { field: "old", text: t("password.wrong_old") }
            : code === "too_many_attempts" ? { field: "old", text: t("password.limited") }
            : code === "validation_failed" ? { field: "pw", text: t("password.too_short", { n: MIN }) }
            : { field: "form", text: x instanceof ApiError ? `${x.message} (${x.status})` : String(x) });
        } finally {
          setBusy(false);
        }
      }}>
        <label for="pw-old">{t("password.old")}</label>
        <input id="pw-old" type="password" autoComplete="current-password" value={f.old} onInput={set("old")}
               aria-invalid={invalid("old")} aria-describedby={described("old")} />
        <label for="pw-new">{t("password.new")}</label>
        <input id="pw-new" type="password" autoComplete="new-password" value={f.pw} onInput={set("pw")}
               aria-invalid={invalid("pw")} aria-describedby={described("pw", "pw-hint")} />
        <p class="hint" id="pw-hint">{t("password.hint", { n: MIN })}</p>
        <label for="pw-again">{t("password.again")}</label>
        <input id="pw-again" type="password" autoComplete="new-password" value={f.again} onInput={set("again")}
               aria-invalid={invalid("again")} aria-describedby={described("again")} />
        {problem && <p class="field-error" id="pw-err" role="alert">{problem.text}</p>}
        <div role="status" aria-live="polite">{done && <p class="ok">{t("password.changed")}</p>}</div>
        <button type="submit" class="primary" disabled={busy}>{t("password.save")}</button>
      </form>
    </Shell>
  );
}

interface Credential { staff_id: string; role: string; set_by: string; updated_at: string; live_sessions: number }

/** Admin: who may sign in with a password, and a form to set one (and the role). */
export function Passwords() {
  const list = useLoad<{ credentials: Credential[] }>((signal) => staffCall("/v1/staff-credentials", { signal }), []);
  const [f, setF] = useState({ staff_id: "", role: "agent", password: "" });
  const [msg, setMsg] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [bad, setBad] = useState("");
  const set = (k: string) => (e: Event) => { setF({ ...f, [k]: (e.target as HTMLInputElement).value }); setBad(""); };
  // supervisors read the admin page too; only admins see who may sign in
  if (list.error instanceof ApiError && list.error.status === 403) return null;
  return (
    <section class="card" aria-labelledby="cred-h">
      <h2 id="cred-h">{t("cred.title")}</h2>
      <p>{t("cred.lead")}</p>
      {list.error ? <ErrorBox error={list.error} onRetry={list.reload} /> : null}
      {!list.data ? (list.loading && <Loading />) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={t("cred.title")}>
          <table>
            <caption class="sr-only">{t("cred.title")}</caption>
            <thead><tr>
              <th scope="col">{t("cred.staff_id")}</th><th scope="col">{t("cred.role")}</th>
              <th scope="col">{t("cred.set_by")}</th><th scope="col">{t("cred.updated")}</th>
              <th scope="col">{t("cred.sessions")}</th>
            </tr></thead>
            <tbody>
              {list.data.credentials.map((c) => (
                <tr data-credential={c.staff_id}>
                  <td>{c.staff_id}</td><td>{t(`cred.role.${c.role}`, undefined, c.role)}</td><td>{c.set_by}</td>
                  <td>{fmtTime(c.updated_at)}</td><td>{c.live_sessions}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form noValidate class="admin-form" onSubmit={async (e) => {
        e.preventDefault();
        setErr(null);
        setMsg("");
        const id = f.staff_id.trim();
        if (!id || chars(f.password) < MIN) return setBad(t("cred.incomplete", { n: MIN }));
        try {
          await staffCall(`/v1/staff-credentials/${encodeURIComponent(id)}`, { method: "PUT", body: { password: f.password, role: f.role } });
          setF({ ...f, password: "" });
          setMsg(t("cred.saved", { id }));
          list.reload();
        } catch (x) {
          setErr(x);
        }
      }}>
        <h3>{t("cred.form")}</h3>
        <div class="grid2">
          <div><label for="cred-id">{t("cred.staff_id")}</label>
            <input id="cred-id" autoComplete="off" value={f.staff_id} onInput={set("staff_id")} /></div>
          <div><label for="cred-role">{t("cred.role")}</label>
            <select id="cred-role" value={f.role} onChange={set("role")}>
              {CRED_ROLES.map((r) => <option value={r}>{t(`cred.role.${r}`)}</option>)}
            </select></div>
          <div><label for="cred-pw">{t("cred.password")}</label>
            <input id="cred-pw" type="password" autoComplete="new-password"
                   aria-describedby={bad ? "cred-err cred-pw-hint" : "cred-pw-hint"} aria-invalid={!!bad || undefined}
                   value={f.password} onInput={set("password")} />
            <p class="hint" id="cred-pw-hint">{t("cred.hint", { n: MIN })}</p></div>
        </div>
        {bad && <p class="field-error" id="cred-err" role="alert">{bad}</p>}
        <div role="status" aria-live="polite">{msg && <p class="ok">{msg}</p>}</div>
        {err ? <ErrorBox error={err} /> : null}
        <button type="submit" class="primary">{t("cred.save")}</button>
      </form>
    </section>
  );
}
