// Staff pages: sign-in, my offers (the phone page), the queue and the case page. Every call sends
// the session's credentials (auth.ts); a 401 sends the user back to the sign-in page.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "../api";
import { session, sessionKnown, signInWithPassword, signInWithToken, signOut, signedIn } from "../auth";
import { fmtFen, fmtTime, label, sentence, t } from "../i18n";
import { navigate, route } from "../router";
import { Code, ErrorBox, Loading, Shell, errorText, useLoad } from "../ui";
import { CasePhotos } from "./photos";

export function StaffGate(props: { children: ComponentChildren }) {
  // a reloaded page first asks the server whether its cookie is still a session
  useEffect(() => {
    if (sessionKnown.get() && !signedIn())
      navigate(`/staff/signin?next=${encodeURIComponent(route.get().path)}`, true);
  }, [session.get(), sessionKnown.get()]);
  return signedIn() ? <>{props.children}</> : null;
}

/** Re-throws a 401 as a sign-out so a stale token never leaves a page half working. */
function guard(e: unknown): never {
  if (e instanceof ApiError && e.status === 401) {
    signOut();
    navigate(`/staff/signin?next=${encodeURIComponent(route.get().path)}`, true);
  }
  throw e;
}

const staffCall = <T,>(path: string, opts: Parameters<typeof call>[1] = {}) =>
  call<T>(path, { ...opts, staff: true }).catch(guard);

function retryMinutes(resp: Response): number {
  const s = Number(resp.headers.get("Retry-After") || "60");
  return Math.max(1, Math.ceil((Number.isFinite(s) ? s : 60) / 60));
}

/** The sign-in page: staff id and password (a cookie session), or an integration's bearer token. */
export function SignIn() {
  const [staffId, setStaffId] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<{ field: "password" | "token"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const next = route.get().query.get("next");
  const go = () => navigate(next && next.startsWith("/staff/") ? next : "/staff/offers", true);

  const withPassword = async () => {
    if (!staffId.trim() || !password) {
      setProblem({ field: "password", text: t("signin.missing") });
      return;
    }
    try {
      await signInWithPassword(staffId.trim(), password);
      setPassword("");
      go();
    } catch (r) {
      const resp = r instanceof Response ? r : null;
      setProblem({ field: "password", text: resp?.status === 429 ? t("signin.limited", { min: retryMinutes(resp) })
        : resp?.status === 401 ? t("signin.wrong") : t("common.network") });
    }
  };
  const withToken = async () => {
    signInWithToken(token);
    // any staff endpoint answers 401 for an unknown token; the queue is readable by all staff
    try {
      await call("/v1/staff/complaints?limit=1", { staff: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        signOut();
        setProblem({ field: "token", text: t("signin.bad") });
        return;
      }
    }
    go();
  };
  const bad = (f: "password" | "token") => problem?.field === f;
  return (
    <Shell title={t("signin.title")} staff>
      <h1>{t("signin.title")}</h1>
      <form class="card narrow-card" noValidate aria-busy={busy || undefined} onSubmit={async (e) => {
        e.preventDefault();
        if (busy) return;
        setProblem(null);
        setBusy(true);
        // a token typed (and no staff id) means the integration token; otherwise the password
        try { await (token.trim() && !staffId.trim() ? withToken() : withPassword()); } finally { setBusy(false); }
      }}>
        <fieldset>
          <legend>{t("signin.password_lead")}</legend>
          <label for="signin-id">{t("signin.staff_id")}</label>
          <input id="signin-id" name="username" autoComplete="username" autoCapitalize="off" spellcheck={false}
                 value={staffId} aria-invalid={bad("password") || undefined}
                 onInput={(e) => { setStaffId((e.target as HTMLInputElement).value); setProblem(null); }} />
          <label for="signin-password">{t("signin.password")}</label>
          <input id="signin-password" name="password" type="password" autoComplete="current-password"
                 value={password} aria-invalid={bad("password") || undefined}
                 aria-describedby={bad("password") ? "signin-err" : undefined}
                 onInput={(e) => { setPassword((e.target as HTMLInputElement).value); setProblem(null); }} />
          {bad("password") && <p class="field-error" id="signin-err" role="alert">{problem!.text}</p>}
        </fieldset>
        <fieldset>
          <legend>{t("signin.token_lead")}</legend>
          <p class="hint" id="signin-token-hint">{t("signin.lead")}</p>
          <label for="signin-token">{t("signin.token")}</label>
          <input id="signin-token" name="token" type="password" autoComplete="off"
                 value={token} aria-invalid={bad("token") || undefined}
                 aria-describedby={bad("token") ? "signin-token-err signin-token-hint" : "signin-token-hint"}
                 onInput={(e) => { setToken((e.target as HTMLInputElement).value); setProblem(null); }} />
          {bad("token") && <p class="field-error" id="signin-token-err" role="alert">{problem!.text}</p>}
        </fieldset>
        <button type="submit" class="primary" disabled={busy}>{t("signin.go")}</button>
      </form>
    </Shell>
  );
}

interface Offer {
  complaint_no: string;
  round: number;
  state: string;
  category: string;
  subcategory: string;
  urgency: string;
  priority: number;
  offered_at: string;
  expires_at: string;
}

const POLL_MS = 2000;
// the staff notifications (followup's staff_* steps) that change what is on offer
const STREAM_STEPS = ["staff_offered", "staff_offer_expired", "staff_assigned", "staff_transferred",
  "staff_escalated"];

/** The phone's cue for a new offer: a vibration where the device has one and a short tone.
 *  Browsers allow sound only after the user touched the page (signing in counts). */
function cue() {
  try { if ("vibrate" in navigator) navigator.vibrate([200, 100, 200]); } catch { /* not allowed */ }
  try {
    const Ctx = window.AudioContext || (window as any).webkitAudioContext;
    if (!Ctx) return;
    const ac: AudioContext = new Ctx();
    const osc = ac.createOscillator(), gain = ac.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(ac.destination);
    osc.start();
    osc.stop(ac.currentTime + 0.25);
    osc.onended = () => ac.close();
  } catch { /* no sound: the list still shows the offer */ }
}

export function Offers() {
  const [offers, setOffers] = useState<Offer[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<{ no: string; ok: boolean } | null>(null);
  const [busy, setBusy] = useState("");
  const seen = useRef(new Set<string>());
  const first = useRef(true);
  const [live, setLive] = useState(false);
  // my open cases: read again every 15 s, and shortly after an accept (the queue learns the new
  // owner through an event, a moment after the accept itself answered)
  const [mineTick, setMineTick] = useState(0);
  const mine = useLoad<{ complaints: Row[] }>(
    (signal) => staffCall(`/v1/staff/complaints?scope=mine&limit=20`, { signal }), [mineTick]);
  useEffect(() => {
    const id = window.setInterval(() => setMineTick((x) => x + 1), 15000);
    return () => clearInterval(id);
  }, []);

  useEffect(() => {
    let stop = false, timer = 0;
    const poll = async () => {
      try {
        const res = await staffCall<{ offers: Offer[] }>("/v1/offers/mine");
        if (stop) return;
        const fresh = res.offers.filter((o) => !seen.current.has(o.complaint_no));
        if (fresh.length && !first.current) cue();
        first.current = false;
        fresh.forEach((o) => seen.current.add(o.complaint_no));
        setOffers(res.offers);
        setError(null);
      } catch (e) {
        if (!stop) setError(e);
      }
      if (!stop) timer = window.setTimeout(poll, POLL_MS);
    };
    poll();
    // The live stream (followup's GET /v1/stream, Server-Sent Events): a staff notification
    // about an offer makes the list read again at once instead of at the next poll. EventSource
    // cannot send headers, so the token goes as access_token (nginx logs no query strings).
    // A cookie session needs nothing in the URL: the browser sends the cookie itself.
    let es: EventSource | null = null;
    const s = session.get();
    if (s && typeof EventSource !== "undefined") {
      es = new EventSource(s.method === "bearer" ? `/v1/stream?access_token=${encodeURIComponent(s.token)}` : "/v1/stream");
      const now = () => { clearTimeout(timer); if (!stop) poll(); };
      for (const step of STREAM_STEPS) es.addEventListener(step, now);
      // each response is held until something arrives (or a few seconds) and then ends, and the
      // browser reconnects: only a stream the browser gave up on (CLOSED) is not live
      es.onopen = () => setLive(true);
      es.onerror = () => { if (es && es.readyState === EventSource.CLOSED) setLive(false); };
    }
    return () => { stop = true; clearTimeout(timer); es?.close(); };
  }, []);

  const accept = async (no: string) => {
    setBusy(no);
    try {
      await staffCall(`/v1/complaints/${encodeURIComponent(no)}/accept`, { method: "POST" });
      setDone({ no, ok: true });
      for (const ms of [1000, 3000, 6000]) window.setTimeout(() => setMineTick((x) => x + 1), ms);
      setOffers((list) => (list || []).filter((o) => o.complaint_no !== no));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 409 || e.status === 404)) setDone({ no, ok: false });
      else setError(e);
    } finally {
      setBusy("");
    }
  };

  return (
    <Shell title={t("offers.title")} staff>
      <h1>{t("offers.title")} {live && <span class="live" id="offers-live" aria-hidden="true">● {t("offers.live")}</span>}</h1>
      <p class="muted">{t("offers.lead")}</p>
      <div aria-live="polite" role="status" class="announce">
        {done && (done.ok
          ? <p class="ok" id="offer-accepted">{t("offers.accepted", { no: done.no })}{" "}
              <a href={`/staff/case/${encodeURIComponent(done.no)}`}>{t("offers.open")}</a></p>
          : <p class="error">{t("offers.taken")}</p>)}
      </div>
      {error ? <ErrorBox error={error} /> : null}
      {offers === null ? <Loading /> : offers.length === 0 ? <p class="muted" id="offers-empty">{t("offers.empty")}</p> : (
        <ul class="offers" aria-label={t("offers.title")}>
          {offers.map((o) => (
            <li class={`offer card prio-${o.priority}`} data-no={o.complaint_no}>
              <div class="offer-head">
                <strong>{o.complaint_no}</strong>
                <span class="badge">P{o.priority}</span>
              </div>
              <p><Code family="category" code={o.category} />{o.subcategory && <> · <Code family="subcat" code={o.subcategory} /></>}
                {o.urgency && <> · <Code family="urgency" code={o.urgency} /></>}</p>
              <p class="muted">{t("offers.expires", { time: fmtTime(o.expires_at) })}</p>
              <button type="button" class="primary big" disabled={busy === o.complaint_no}
                      onClick={() => accept(o.complaint_no)}>
                {t("offers.accept")} {o.complaint_no}
              </button>
            </li>
          ))}
        </ul>
      )}
      <section aria-labelledby="mine-h" class="mine">
        <h2 id="mine-h">{t("offers.mine")}</h2>
        {!mine.data ? (mine.loading ? <Loading /> : <ErrorBox error={mine.error} onRetry={mine.reload} />) :
          mine.data.complaints.length === 0 ? <p class="muted">{t("common.none")}</p> : (
          <ul class="mine-list">
            {mine.data.complaints.map((r) => (
              <li class={`card${r.overdue ? " overdue" : ""}`}>
                <a href={`/staff/case/${encodeURIComponent(r.complaint_no)}`}>{r.complaint_no}</a>
                {" "}· {t(`st.${r.status}`, undefined, r.status)}
                {r.nearest_deadline && <p class={r.overdue ? "overdue-mark" : "muted"}>
                  {t(`clock.${r.nearest_deadline.clock}`, undefined, r.nearest_deadline.clock)}: {t("case.due", { time: fmtTime(r.nearest_deadline.due_at) })}
                  {r.overdue ? ` · ${t("queue.overdue")}` : ""}</p>}
              </li>
            ))}
          </ul>
        )}
      </section>
    </Shell>
  );
}

export const STATUSES = ["received", "offered", "accepted", "reopened", "in_contact", "verified",
  "plan_proposed", "pending_approval", "executing", "awaiting_confirmation", "closed", "merged", "withdrawn"];
const SCOPES = ["all", "mine", "unassigned", "overdue", "due_soon"];
// the queue's other filters, passed through as they are (intake validates them)
const EXTRA_FILTERS = ["priority", "category", "outlet", "owner"];

interface Row {
  complaint_no: string;
  status: string;
  waybill_no: string;
  type: string;
  priority: number;
  received_at: string;
  owner_staff_id?: string | null;
  category?: string | null;
  overdue?: boolean;
  escalation_level?: number;
  nearest_deadline?: { clock: string; due_at: string } | null;
  complainant?: { name: string; phone: string };
}

export function Queue() {
  const q = route.get().query;
  const [scope, setScope] = useState(q.get("scope") || "all");
  const [status, setStatus] = useState(q.get("status") || "");
  const [waybill, setWaybill] = useState(q.get("waybill_no") || "");
  const [more4, setMore4] = useState<Record<string, string>>(
    Object.fromEntries(EXTRA_FILTERS.map((k) => [k, q.get(k) || ""])));
  const [pages, setPages] = useState<Row[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState<unknown>(null);
  const params = new URLSearchParams();
  for (const k of ["scope", "status", "waybill_no", ...EXTRA_FILTERS]) if (q.get(k)) params.set(k, q.get(k)!);
  params.set("limit", "50");
  const list = useLoad<{ complaints: Row[]; next_cursor: string | null }>(async (signal) => {
    const r = await staffCall<{ complaints: Row[]; next_cursor: string | null }>(`/v1/staff/complaints?${params}`, { signal });
    setPages([]);
    setCursor(r.next_cursor);
    return r;
  }, [params.toString()]);
  const rows = list.data ? [...list.data.complaints, ...pages.flat()] : [];
  const loadMore = async () => {
    if (!cursor) return;
    try {
      const p = new URLSearchParams(params);
      p.set("after", cursor);
      const r = await staffCall<{ complaints: Row[]; next_cursor: string | null }>(`/v1/staff/complaints?${p}`);
      setPages((old) => [...old, r.complaints]);
      setCursor(r.next_cursor);
    } catch (e) {
      setMore(e);
    }
  };
  return (
    <Shell title={t("queue.title")} staff>
      <h1>{t("queue.title")}</h1>
      <form class="filters" onSubmit={(e) => {
        e.preventDefault();
        const p = new URLSearchParams();
        if (scope !== "all") p.set("scope", scope);
        if (status) p.set("status", status);
        if (waybill.trim()) p.set("waybill_no", waybill.trim().toUpperCase());
        for (const k of EXTRA_FILTERS) if (more4[k].trim()) p.set(k, more4[k].trim());
        navigate(`/staff/queue?${p}`);
      }}>
        <div>
          <label for="q-scope">{t("queue.scope")}</label>
          <select id="q-scope" value={scope} onChange={(e) => setScope((e.target as HTMLSelectElement).value)}>
            {SCOPES.map((s) => <option value={s}>{t(`scope.${s}`)}</option>)}
          </select>
        </div>
        <div>
          <label for="q-status">{t("queue.status")}</label>
          <select id="q-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">{t("queue.all")}</option>
            {STATUSES.map((s) => <option value={s}>{t(`st.${s}`, undefined, s)}</option>)}
          </select>
        </div>
        <div>
          <label for="q-waybill">{t("queue.waybill")}</label>
          <input id="q-waybill" value={waybill} onInput={(e) => setWaybill((e.target as HTMLInputElement).value)} />
        </div>
        {EXTRA_FILTERS.map((k) => (
          <div>
            <label for={`q-${k}`}>{t(`queue.${k}`)}</label>
            {k === "priority" ? (
              <select id={`q-${k}`} value={more4[k]} onChange={(e) => setMore4({ ...more4, [k]: (e.target as HTMLSelectElement).value })}>
                <option value="">{t("queue.all")}</option>
                {["1", "2", "3", "4", "5"].map((p) => <option value={p}>P{p}</option>)}
              </select>
            ) : (
              <input id={`q-${k}`} value={more4[k]} onInput={(e) => setMore4({ ...more4, [k]: (e.target as HTMLInputElement).value })} />
            )}
          </div>
        ))}
        <button type="submit">{t("queue.filter")}</button>
      </form>
      {list.error ? <ErrorBox error={list.error} onRetry={list.reload} /> : null}
      {!list.data ? (list.loading && <Loading />) : rows.length === 0 ?
        <p class="muted">{t("queue.empty")}</p> : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={t("queue.title")}>
          <table class="queue">
            <caption class="sr-only">{t("queue.title")}</caption>
            <thead><tr>
              <th scope="col">{t("queue.no")}</th><th scope="col">{t("queue.status")}</th>
              <th scope="col">{t("queue.due")}</th><th scope="col">{t("queue.priority")}</th>
              <th scope="col">{t("queue.type")}</th><th scope="col">{t("case.owner")}</th>
              <th scope="col">{t("queue.waybill")}</th><th scope="col">{t("queue.customer")}</th>
              <th scope="col">{t("queue.received")}</th>
            </tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr class={r.overdue ? "overdue" : ""}>
                  <td><a href={`/staff/case/${encodeURIComponent(r.complaint_no)}`}>{r.complaint_no}</a></td>
                  <td>{t(`st.${r.status}`, undefined, r.status)}</td>
                  <td>{r.nearest_deadline ? <>{fmtTime(r.nearest_deadline.due_at)} <span class="muted">{t(`clock.${r.nearest_deadline.clock}`, undefined, r.nearest_deadline.clock)}</span></> : ""}
                    {r.overdue ? <strong class="overdue-mark"> {t("queue.overdue")}</strong> : ""}</td>
                  <td>P{r.priority}</td>
                  <td>{r.category ? <Code family="category" code={r.category} /> : t(`type.${r.type}`, undefined, r.type)}</td>
                  <td>{r.owner_staff_id || "–"}</td>
                  <td>{r.waybill_no}</td>
                  <td>{r.complainant ? `${r.complainant.name} ${r.complainant.phone}` : ""}</td>
                  <td>{fmtTime(r.received_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more ? <ErrorBox error={more} /> : null}
      {cursor && <button type="button" onClick={loadMore}>{t("queue.more")}</button>}
    </Shell>
  );
}

function Facts(props: { rows: [string, unknown][] }) {
  const rows = props.rows.filter(([, v]) => v !== undefined && v !== null && v !== "" && v !== false &&
    !(Array.isArray(v) && v.length === 0));
  return (
    <dl class="facts">
      {rows.map(([k, v]) => <><dt>{k}</dt><dd>{Array.isArray(v) ? v.join(", ")
        : typeof v === "object" ? v as ComponentChildren : String(v)}</dd></>)}
    </dl>
  );
}

/** A sentence a service wrote in English (see SENTENCES in i18n.ts), in the page's language;
 *  the service's own words stay as the title for staff. */
function Said(props: { scope: string; text: string | null | undefined }) {
  if (!props.text) return null;
  const said = sentence(props.scope, props.text);
  return said == null ? <span>{props.text}</span> : <span title={props.text}>{said}</span>;
}

/** The start of a template's text with its {placeholders} named in the page's language (they
 *  are filled when the message is sent). */
function templatePreview(body: unknown): string {
  const text = String(body || "").replace(/\{([a-z_]+)\}/g, (_, v: string) => `[${label("var", v)}]`);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** A label for who did a step: "system" and "customer" in words, a staff id as it is. */
const actorLabel = (a: string | null | undefined) => (a ? label("actor", a) : "");

/** What a plan means in money, in the page's language: no amount is "no compensation proposed"
 *  (never "¥0.00", which reads as a promise of nothing); an amount says whether it is still a
 *  proposal (people decide) or decided. */
type PlanMoney = { status: string; total_fen?: number | null; currency?: string;
                   remedies?: { amount_fen?: number | null }[] };
const planHasMoney = (p: PlanMoney) =>
  (p.total_fen ?? 0) > 0 || (p.remedies || []).some((r) => (r.amount_fen ?? 0) > 0);

export function planMoney(p: PlanMoney): string {
  if (!planHasMoney(p)) return t("money.none");
  const amount = fmtFen(p.total_fen ?? (p.remedies || []).reduce((a, r) => a + (r.amount_fen ?? 0), 0), p.currency);
  switch (p.status) {
    case "proposed": case "pending_approval": return t("money.proposed", { amount });
    case "rejected": return t("money.sent_back", { amount });
    case "approved": case "executing": return t("money.decided", { amount });
    case "executed": return t("money.paid", { amount });
    default: return amount;
  }
}

/** A remedy's amount: money kinds with an amount in the page's currency format, a money kind
 *  without one as "no compensation proposed", the others (apology, reship ...) nothing. */
const MONEY_KINDS = new Set(["compensation", "coupon", "freight_waiver", "freight_refund"]);
function remedyAmount(r: { kind: string; amount_fen?: number | null }, currency?: string): string {
  if ((r.amount_fen ?? 0) > 0) return fmtFen(r.amount_fen, currency);
  return r.kind === "compensation" ? t("money.none") : "";
}

function Raw(props: { data: unknown }) {
  return <details><summary>JSON</summary><pre class="raw">{JSON.stringify(props.data, null, 2)}</pre></details>;
}

// Templates a person may send by hand (followup refuses the internal ones with 422).
const INTERNAL_TEMPLATES = /^(appeal|customer_replied|contact|plan_executed|closed.*|reopened.*|staff_.*)$/;

function Clock(props: { k: any }) {
  const k = props.k;
  const used = k.duration_s ? Math.min(1, (k.used_s ?? 0) / k.duration_s) : 0;
  const over = k.breached || (used >= 1 && k.state !== "stopped");
  return (
    <li class={`clock clock-${k.state}${over ? " over" : ""}`}>
      <span class="clock-name">{t(`clock.${k.clock}`, undefined, k.clock)}</span>
      <progress max={100} value={Math.round(used * 100)} aria-label={t(`clock.${k.clock}`, undefined, k.clock)} />
      <span class="muted">{t(`clockstate.${k.state}`, undefined, k.state)}
        {k.due_at ? ` · ${t("case.due", { time: fmtTime(k.due_at) })}` : ""}
        {k.breached ? ` · ${t("case.breached")}` : ""}
        {k.escalation_level ? ` · L${k.escalation_level}` : ""}</span>
    </li>
  );
}

/** A clock as the timer reports it, in the case view's shape (used_s computed from its times). */
function timerClock(k: any) {
  const start = Date.parse(k.started_at);
  const end = k.stopped_at ? Date.parse(k.stopped_at) : Date.now();
  const used = Math.max(0, Math.round((end - start) / 1000 - (k.paused_s || 0)));
  return { ...k, used_s: used, breached: k.escalation_level > 0 && k.state !== "stopped" };
}

export function CasePage(props: { no: string }) {
  const no = encodeURIComponent(props.no);
  const [msg, setMsg] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const view = useLoad<any>((signal) => staffCall(`/v1/staff/complaints/${no}`, { signal }), [no, tick]);
  const why = useLoad<any>((signal) => staffCall(`/v1/complaints/${no}/classification`, { signal }), [no, tick]);
  const templates = useLoad<any>((signal) => staffCall(`/v1/templates`, { signal }), []);
  // the timer's own clocks, shown while the case view carries none (its clock snapshots)
  const timer = useLoad<any>((signal) => staffCall(`/v1/complaints/${no}/clocks`, { signal }), [no, tick]);
  const act = async (path: string, body: unknown, ok: string): Promise<boolean> => {
    setErr(null);
    setMsg("");
    try {
      await staffCall(path, { method: "POST", body });
      setMsg(ok);
      // the other services apply the step through events; read the case again shortly after
      setTick((x) => x + 1);
      window.setTimeout(() => setTick((x) => x + 1), 1500);
      return true;
    } catch (e) {
      setErr(e);
      return false;
    }
  };
  const title = t("case.title", { no: props.no });
  const c = view.data;
  if (!c) {
    return (
      <Shell title={title} staff>
        <h1>{title}</h1>
        {view.loading ? <Loading /> : <ErrorBox error={view.error} onRetry={view.reload} />}
      </Shell>
    );
  }
  const lang = c.language || "zh-CN";
  // one option per template in the customer's language, labelled with the start of its text
  const tpl: { step: string; label: string }[] = (templates.data?.templates || [])
    .filter((x: any) => x.language === lang && !INTERNAL_TEMPLATES.test(x.step))
    .map((x: any) => ({ step: x.step, label: `${label("tpl", x.step)}: ${templatePreview(x.body)}` }));
  const closed = ["closed", "merged", "withdrawn"].includes(c.status);
  const ev = c.evidence || {};
  const resp = ev.responsibility || {};
  return (
    <Shell title={title} staff>
      <h1>{title}</h1>
      <p class="case-head">
        <span class={`badge st-${c.status}`} id="case-status">{t(`st.${c.status}`, undefined, c.status)}</span>
        {" "}P{c.priority} · {t(`type.${c.type}`, undefined, c.type)} · {c.waybill_no}
        {" "}· {t("case.owner")}: <strong id="case-owner">{c.owner?.staff_id || t("case.nobody")}</strong>
        {c.nearest_deadline?.due_at && <> · {t("case.due", { time: fmtTime(c.nearest_deadline.due_at) })} (<Code family="clock" code={c.nearest_deadline.clock} />)</>}
      </p>
      <div aria-live="polite" role="status">{msg && <p class="ok">{msg}</p>}</div>
      {err ? <ErrorBox error={err} /> : null}
      {!closed && c.owner?.staff_id == null && (
        <button type="button" class="primary" onClick={() => act(`/v1/complaints/${no}/accept`, {}, t("offers.accepted", { no: props.no }))}>
          {t("case.accept")}
        </button>
      )}
      <div class="case-grid">
        <section class="card" aria-labelledby="c-h">
          <h2 id="c-h">{t("case.complaint")}</h2>
          <p class="description">{c.description}</p>
          <Facts rows={[
            [t("form.name"), c.complainant?.name], [t("form.phone"), c.complainant?.phone],
            [t("form.contact"), c.complainant?.preferred_contact && t(`contact.${c.complainant.preferred_contact}`)],
            [t("form.role"), c.complainant?.role && t(`role.${c.complainant.role}`)],
            [t("case.goods"), (c.impact?.goods || []).map((g: string) => t(`goods.${g}`))],
            [t("form.value"), c.impact?.declared_value_fen != null ? fmtFen(c.impact.declared_value_fen) : null],
            [t("case.demand"), (c.demand || []).map((d: string) => t(`demand.${d}`))],
            [t("case.target"), c.target?.kind ? <><Code family="target" code={c.target.kind} /> {c.target.id || ""}</> : null],
            [t("queue.received"), fmtTime(c.received_at)], [t("case.channel"), c.channel ? <Code family="channel" code={c.channel} /> : null],
            [t("case.next_update"), fmtTime(c.next_update_by)],
          ]} />
          {c.customer && (
            <>
              <h3>{t("case.customer")}</h3>
              <Facts rows={[[t("case.tier"), c.customer.tier ? <Code family="tier" code={c.customer.tier} /> : null], [t("case.total"), c.customer.complaints_total],
                [t("case.repeat_complainer"), c.customer.repeat_complainer ? t("common.yes") : t("common.no")]]} />
              {(c.customer.earlier_complaints || []).length > 0 && (
                <ul class="earlier">{c.customer.earlier_complaints.map((o: any) => (
                  <li><a href={`/staff/case/${encodeURIComponent(o.complaint_no)}`}>{o.complaint_no}</a>
                    {" "}{t(`type.${o.type}`, undefined, o.type)} · {t(`st.${o.status}`, undefined, o.status)} · {fmtTime(o.received_at)}</li>
                ))}</ul>
              )}
            </>
          )}
        </section>

        <CasePhotos photos={c.photos || []} onDeleted={() => setTick((x) => x + 1)} />
        <section class="card" aria-labelledby="k-h">
          <h2 id="k-h">{t("case.clocks")}</h2>
          {(() => {
            const clocks = (c.clocks || []).length ? c.clocks : (timer.data?.clocks || []).map(timerClock);
            return clocks.length === 0 ? <p class="muted">{t("common.none")}</p> :
              <ul class="clocks">{clocks.map((k: any) => <Clock k={k} />)}</ul>;
          })()}
        </section>

        <section class="card" aria-labelledby="cl-h">
          <h2 id="cl-h">{t("case.classification")}</h2>
          <Facts rows={[[t("case.category"), c.classification?.category ? <><Code family="category" code={c.classification.category} />
              {c.classification.subcategory && <> / <Code family="subcat" code={c.classification.subcategory} /></>}</> : null],
            [t("case.urgency"), c.classification?.urgency ? <Code family="urgency" code={c.classification.urgency} /> : null],
            [t("case.tier"), c.classification?.tier ? <Code family="tier" code={c.classification.tier} /> : null],
            [t("case.policy"), c.classification?.sla_policy ? <Code family="policy" code={c.classification.sla_policy} /> : null],
            [t("case.why"), why.data?.choice_reason ? <Said scope="why" text={why.data.choice_reason} /> : null],
            [t("case.keywords"), why.data?.keywords]]} />
          {why.data && <Raw data={why.data} />}
        </section>

        <section class="card" aria-labelledby="ev-h">
          <h2 id="ev-h">{t("case.evidence")}</h2>
          {!c.evidence ? <p class="muted">{t("common.none")}</p> : (
            <>
              <Facts rows={[[t("case.party"), resp.party ? <><Code family="party" code={resp.party} />{resp.party_id ? ` ${resp.party_id}` : ""}</> : null],
                [t("case.stage"), resp.stage ? <Code family="stage" code={resp.stage} /> : null],
                [t("case.confidence"), resp.confidence_pct != null ? `${resp.confidence_pct}%` : null],
                [t("case.preliminary"), resp.preliminary === false ? t("case.confirmed") : t("case.preliminary.yes")],
                [t("case.reasons"), (resp.reasons || []).length ? <ul class="reasons">{resp.reasons.map((x: string) => <li><Said scope="reason" text={x} /></li>)}</ul> : null]]} />
              {(ev.findings || []).length > 0 && <>
                <h3>{t("case.findings")}</h3>
                <ul class="findings">{ev.findings.map((f: any) => <li><Code family="finding" code={f.kind || f.code} />
                  {f.detail ? <>{t("common.colon")}{typeof f.detail === "string" ? <Said scope={f.kind} text={f.detail} /> : JSON.stringify(f.detail)}</> : ""}</li>)}</ul>
              </>}
              {resp.preliminary !== false && !closed && (
                <button type="button" onClick={() => act(`/v1/complaints/${no}/evidence/confirm`, {}, t("case.confirm.done"))}>
                  {t("case.confirm")}
                </button>
              )}
              <Raw data={c.evidence} />
            </>
          )}
        </section>

        <section class="card" aria-labelledby="p-h">
          <h2 id="p-h">{t("case.proposals")}</h2>
          {(c.plans || []).length === 0 ? <p class="muted">{t("common.none")}</p> : (
            <ul class="proposals">
              {c.plans.map((p: any) => (
                <li class="proposal">
                  <p><span class="badge">{t(`plan.${p.status}`, undefined, p.status)}</span>{" "}
                    <strong class={`plan-money ${planHasMoney(p) ? `plan-money-${p.status}` : "plan-money-none"}`}>{planMoney(p)}</strong>
                    {p.rule && <> · {t("case.rule")}: <Code family="rule" code={p.rule} /></>}
                    {p.proposed_by ? ` · ${t("case.proposed_by")} ${actorLabel(p.proposed_by)}` : ""}{p.approved_by ? ` · ${t("case.approved_by")} ${actorLabel(p.approved_by)}` : ""}</p>
                  {p.status === "proposed" && (!p.proposed_by || p.proposed_by === "system") &&
                    <p class="muted">{t("money.draft_note")}</p>}
                  <ul>{(p.remedies || []).map((r: any) => <li><Code family="remedy" code={r.kind} />
                    {remedyAmount(r, p.currency) && ` ${remedyAmount(r, p.currency)}`}
                    {r.rule && r.rule !== r.kind && <> <span class="muted"><Code family="rule" code={r.rule} /></span></>}</li>)}</ul>
                  {p.status === "pending_approval" && (
                    <div class="actions">
                      <button type="button" class="primary" onClick={() => act(`/v1/proposals/${p.proposal_id}/approve`, {}, t("case.approved"))}>{t("case.approve")}</button>
                      <button type="button" onClick={() => act(`/v1/proposals/${p.proposal_id}/reject`, { reason: t("case.reject.reason") }, t("case.rejected"))}>{t("case.reject")}</button>
                    </div>
                  )}
                  {p.status === "proposed" && (
                    <button type="button" class="primary" onClick={() => act(`/v1/proposals/${p.proposal_id}/accept`, {}, t("case.plan.accepted"))}>
                      {t("case.plan.accept")}
                    </button>
                  )}
                  {["proposed", "rejected", "failed"].includes(p.status) && !closed &&
                    <Amend plan={p} act={act} />}
                </li>
              ))}
            </ul>
          )}
        </section>

        <section class="card" aria-labelledby="cv-h">
          <h2 id="cv-h">{t("case.conversation")}</h2>
          {(c.conversation || []).length === 0 ? <p class="muted">{t("common.none")}</p> : (
            <ol class="conversation">
              {c.conversation.map((m: any) => (
                <li class={`msg msg-${m.direction}`}>
                  <span class="muted">{fmtTime(m.at)} · <Code family="conv" code={m.kind} />{m.actor ? ` · ${actorLabel(m.actor)}` : ""}</span>
                  <p>{m.text}</p>
                </li>
              ))}
            </ol>
          )}
        </section>

        {!closed && <CaseActions no={no} templates={tpl} act={act} />}

        <section class="card" aria-labelledby="n-h">
          <h2 id="n-h">{t("case.notes")}</h2>
          {(c.notes || []).length === 0 ? <p class="muted">{t("common.none")}</p> : (
            <ul class="notes">{c.notes.map((n: any) => <li><span class="muted">{fmtTime(n.at)} · {n.author}</span><p>{n.text}</p></li>)}</ul>
          )}
          <NoteForm no={no} act={act} />
        </section>

        <section class="card" aria-labelledby="tl-h">
          <h2 id="tl-h">{t("case.timeline")}</h2>
          <ol class="timeline">
            {[...(c.timeline || [])].reverse().map((s: any) => (
              <li><span class="step">{t(`step.${s.step}`, undefined, s.step)}{s.actor ? ` · ${actorLabel(s.actor)}` : ""}
                {s.visibility === "internal" ? ` (${t("case.internal")})` : ""}</span>
                <time dateTime={s.at}>{fmtTime(s.at)}</time></li>
            ))}
          </ol>
        </section>

        {closed && (
          <section class="card" aria-labelledby="ro-h">
            <h2 id="ro-h">{t("case.reopen")}</h2>
            <ReasonForm id="reopen" label={t("case.reason")} button={t("case.reopen")}
                        onSubmit={(reason) => act(`/v1/complaints/${no}/reopen`, { reason }, t("case.reopened"))} />
          </section>
        )}
      </div>
    </Shell>
  );
}

function ReasonForm(props: { id: string; label: string; button: string; onSubmit: (text: string) => Promise<boolean> }) {
  const [text, setText] = useState("");
  return (
    <form noValidate onSubmit={async (e) => {
      e.preventDefault();
      if (text.trim() && await props.onSubmit(text.trim())) setText("");
    }}>
      <label for={`${props.id}-text`}>{props.label}</label>
      <textarea id={`${props.id}-text`} rows={2} maxLength={2000} value={text}
                onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <button type="submit">{props.button}</button>
    </form>
  );
}

function NoteForm(props: { no: string; act: (p: string, b: unknown, ok: string) => Promise<boolean> }) {
  return <ReasonForm id="note" label={t("case.note")} button={t("case.note.add")}
                     onSubmit={(text) => props.act(`/v1/complaints/${props.no}/notes`, { text }, t("case.note.added"))} />;
}

function CaseActions(props: { no: string; templates: { step: string; label: string }[]; act: (p: string, b: unknown, ok: string) => Promise<boolean> }) {
  const { no, act } = props;
  const [template, setTemplate] = useState("");
  const [text, setText] = useState("");
  const [outcome, setOutcome] = useState("reached");
  const [summary, setSummary] = useState("");
  const [reason, setReason] = useState("resolved");
  const [merged, setMerged] = useState("");
  return (
    <section class="card" aria-labelledby="act-h">
      <h2 id="act-h">{t("case.actions")}</h2>
      <form noValidate onSubmit={async (e) => {
        e.preventDefault();
        const body = template ? { template } : { text: text.trim() };
        if (!template && !text.trim()) return;
        if (await act(`/v1/complaints/${no}/contact`, body, t("case.contact.sent"))) { setText(""); setTemplate(""); }
      }}>
        <h3>{t("case.contact")}</h3>
        <label for="contact-template">{t("case.template")}</label>
        <select id="contact-template" value={template} onChange={(e) => setTemplate((e.target as HTMLSelectElement).value)}>
          <option value="">{t("case.freetext")}</option>
          {props.templates.map((x) => <option value={x.step}>{x.label}</option>)}
        </select>
        {!template && <>
          <label for="contact-text">{t("case.message")}</label>
          <textarea id="contact-text" rows={3} maxLength={2000} value={text}
                    onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        </>}
        <button type="submit" class="primary">{t("case.contact.send")}</button>
      </form>

      <form noValidate onSubmit={async (e) => {
        e.preventDefault();
        if (await act(`/v1/complaints/${no}/calls`, { outcome, summary: summary.trim() }, t("case.call.logged"))) setSummary("");
      }}>
        <h3>{t("case.call")}</h3>
        <label for="call-outcome">{t("case.call.outcome")}</label>
        <select id="call-outcome" value={outcome} onChange={(e) => setOutcome((e.target as HTMLSelectElement).value)}>
          {["reached", "no_answer", "voicemail", "wrong_number"].map((o) => <option value={o}>{t(`call.${o}`)}</option>)}
        </select>
        <label for="call-summary">{t("case.call.summary")}</label>
        <textarea id="call-summary" rows={2} maxLength={2000} value={summary}
                  onInput={(e) => setSummary((e.target as HTMLTextAreaElement).value)} />
        <button type="submit">{t("case.call.log")}</button>
      </form>

      <h3>{t("case.ask")}</h3>
      <ReasonForm id="ask" label={t("case.question")} button={t("case.ask.send")}
                  onSubmit={(question) => act(`/v1/complaints/${no}/await-customer`, { question }, t("case.ask.sent"))} />

      <form noValidate onSubmit={(e) => {
        e.preventDefault();
        const body: Record<string, string> = { reason };
        if (reason === "duplicate") body.merged_into = merged.trim();
        act(`/v1/complaints/${no}/close`, body, t("case.closed"));
      }}>
        <h3>{t("case.close")}</h3>
        <label for="close-reason">{t("case.reason")}</label>
        <select id="close-reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
          {["resolved", "no_fault_found", "withdrawn", "duplicate"].map((r) => <option value={r}>{t(`close.${r}`)}</option>)}
        </select>
        {reason === "duplicate" && <>
          <label for="close-merged">{t("case.merged_into")}</label>
          <input id="close-merged" value={merged} onInput={(e) => setMerged((e.target as HTMLInputElement).value)} />
        </>}
        <button type="submit">{t("case.close")}</button>
      </form>
    </section>
  );
}

/** Amend a plan: the amount of each remedy (in CNY on screen, fen on the wire) and a reason.
 *  Above the person's authority the plan waits for a supervisor (resolution decides). */
function Amend(props: { plan: any; act: (p: string, b: unknown, ok: string) => Promise<boolean> }) {
  const p = props.plan;
  const [amounts, setAmounts] = useState<string[]>((p.remedies || []).map((r: any) => ((r.amount_fen || 0) / 100).toFixed(2)));
  const [reason, setReason] = useState("");
  const [bad, setBad] = useState(false);
  const id = `amend-${p.proposal_id}`;
  return (
    <details class="amend">
      <summary>{t("case.plan.amend")}</summary>
      <form noValidate onSubmit={async (e) => {
        e.preventDefault();
        const fen = amounts.map((a) => Math.round(Number(a) * 100));
        if (!reason.trim() || fen.some((f) => !(f >= 0))) { setBad(true); return; }
        const remedies = (p.remedies || []).map((r: any, i: number) => ({ kind: r.kind, amount_fen: fen[i] }));
        await props.act(`/v1/proposals/${p.proposal_id}/amend`, { remedies, reason: reason.trim() }, t("case.plan.amended"));
      }}>
        {(p.remedies || []).map((r: any, i: number) => (
          <>
            <label for={`${id}-${i}`}>{label("remedy", r.kind)} ({p.currency || "CNY"})</label>
            <input id={`${id}-${i}`} inputMode="decimal" value={amounts[i]}
                   onInput={(e) => { const v = [...amounts]; v[i] = (e.target as HTMLInputElement).value; setAmounts(v); setBad(false); }} />
          </>
        ))}
        <label for={`${id}-reason`}>{t("case.reason")}</label>
        <textarea id={`${id}-reason`} rows={2} value={reason} aria-invalid={bad || undefined}
                  onInput={(e) => { setReason((e.target as HTMLTextAreaElement).value); setBad(false); }} />
        {bad && <p class="field-error">{t("common.required")}</p>}
        <button type="submit">{t("case.plan.amend.send")}</button>
      </form>
    </details>
  );
}
