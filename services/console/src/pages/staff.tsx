// Staff pages: sign-in, my offers (the phone page), the queue and the case page. Every call sends
// the session's credentials (auth.ts); a 401 sends the user back to the sign-in page.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "../api";
import { session, signInWithToken, signOut, signedIn } from "../auth";
import { fmtFen, fmtTime, t } from "../i18n";
import { navigate, route } from "../router";
import { ErrorBox, Loading, Shell, errorText, useLoad } from "../ui";

export function StaffGate(props: { children: ComponentChildren }) {
  useEffect(() => {
    if (!signedIn()) navigate(`/staff/signin?next=${encodeURIComponent(route.get().path)}`, true);
  }, [session.get()]);
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

export function SignIn() {
  const [token, setToken] = useState("");
  const [bad, setBad] = useState(false);
  const next = route.get().query.get("next");
  return (
    <Shell title={t("signin.title")} staff>
      <h1>{t("signin.title")}</h1>
      <form class="card narrow-card" noValidate onSubmit={async (e) => {
        e.preventDefault();
        if (!token.trim()) return;
        signInWithToken(token);
        // any staff endpoint answers 401 for an unknown token; the queue is readable by all staff
        try {
          await call("/v1/staff/complaints?limit=1", { staff: true });
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) {
            signOut();
            setBad(true);
            return;
          }
        }
        navigate(next && next.startsWith("/staff/") ? next : "/staff/offers", true);
      }}>
        <p>{t("signin.lead")}</p>
        <label for="signin-token">{t("signin.token")}</label>
        <input id="signin-token" name="token" type="password" autoComplete="current-password"
               value={token} aria-invalid={bad || undefined} aria-describedby={bad ? "signin-err" : undefined}
               onInput={(e) => { setToken((e.target as HTMLInputElement).value); setBad(false); }} />
        {bad && <p class="field-error" id="signin-err">{t("signin.bad")}</p>}
        <button type="submit" class="primary">{t("signin.go")}</button>
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

export function Offers() {
  const [offers, setOffers] = useState<Offer[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<{ no: string; ok: boolean } | null>(null);
  const [busy, setBusy] = useState("");
  const seen = useRef(new Set<string>());

  useEffect(() => {
    let stop = false, timer = 0;
    const poll = async () => {
      try {
        const res = await staffCall<{ offers: Offer[] }>("/v1/offers/mine");
        if (stop) return;
        const fresh = res.offers.filter((o) => !seen.current.has(o.complaint_no));
        // the phone's cue for a new offer: a vibration where the device has one
        if (fresh.length && seen.current.size + fresh.length > 0 && "vibrate" in navigator) {
          try { navigator.vibrate(200); } catch { /* not allowed without a gesture */ }
        }
        fresh.forEach((o) => seen.current.add(o.complaint_no));
        setOffers(res.offers);
        setError(null);
      } catch (e) {
        if (!stop) setError(e);
      }
      if (!stop) timer = window.setTimeout(poll, POLL_MS);
    };
    poll();
    return () => { stop = true; clearTimeout(timer); };
  }, []);

  const accept = async (no: string) => {
    setBusy(no);
    try {
      await staffCall(`/v1/complaints/${encodeURIComponent(no)}/accept`, { method: "POST" });
      setDone({ no, ok: true });
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
      <h1>{t("offers.title")} <span class="live" aria-hidden="true">● {t("offers.live")}</span></h1>
      <p class="muted">{t("offers.lead")}</p>
      <div aria-live="polite" role="status" class="announce">
        {done && (done.ok
          ? <p class="ok" id="offer-accepted">{t("offers.accepted", { no: done.no })}{" "}
              <a href={`/staff/case/${encodeURIComponent(done.no)}`}>{t("offers.open")}</a></p>
          : <p class="error">{t("offers.taken")}</p>)}
      </div>
      {error ? <ErrorBox error={error} /> : null}
      {offers === null ? <Loading /> : offers.length === 0 ? <p class="muted">{t("offers.empty")}</p> : (
        <ul class="offers" aria-label={t("offers.title")}>
          {offers.map((o) => (
            <li class={`offer card prio-${o.priority}`} data-no={o.complaint_no}>
              <div class="offer-head">
                <strong>{o.complaint_no}</strong>
                <span class="badge">P{o.priority}</span>
              </div>
              <p>{o.category}{o.subcategory ? ` · ${o.subcategory}` : ""}{o.urgency ? ` · ${o.urgency}` : ""}</p>
              <p class="muted">{t("offers.expires", { time: fmtTime(o.expires_at) })}</p>
              <button type="button" class="primary big" disabled={busy === o.complaint_no}
                      onClick={() => accept(o.complaint_no)}>
                {t("offers.accept")} {o.complaint_no}
              </button>
            </li>
          ))}
        </ul>
      )}
    </Shell>
  );
}

export const STATUSES = ["received", "classified", "offered", "assigned", "accepted", "in_contact",
  "verified", "resolution_proposed", "plan_proposed", "pending_approval", "executing", "executed",
  "awaiting_confirmation", "reopened", "closed", "merged", "withdrawn"];

interface Row {
  complaint_no: string;
  status: string;
  waybill_no: string;
  type: string;
  priority: number;
  received_at: string;
  owner?: string | null;
  due_at?: string | null;
  complainant?: { name: string; phone: string };
}

export function Queue() {
  const q = route.get().query;
  const [status, setStatus] = useState(q.get("status") || "");
  const [waybill, setWaybill] = useState(q.get("waybill_no") || "");
  const params = new URLSearchParams();
  if (q.get("status")) params.set("status", q.get("status")!);
  if (q.get("waybill_no")) params.set("waybill_no", q.get("waybill_no")!);
  params.set("limit", "100");
  const list = useLoad<{ complaints: Row[] }>(
    (signal) => staffCall(`/v1/staff/complaints?${params}`, { signal }), [params.toString()]);
  const now = Date.now();
  return (
    <Shell title={t("queue.title")} staff>
      <h1>{t("queue.title")}</h1>
      <form class="filters" onSubmit={(e) => {
        e.preventDefault();
        const p = new URLSearchParams();
        if (status) p.set("status", status);
        if (waybill.trim()) p.set("waybill_no", waybill.trim().toUpperCase());
        navigate(`/staff/queue?${p}`);
      }}>
        <label for="q-status">{t("queue.status")}</label>
        <select id="q-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">{t("queue.all")}</option>
          {STATUSES.map((s) => <option value={s}>{t(`st.${s}`, undefined, s)}</option>)}
        </select>
        <label for="q-waybill">{t("queue.waybill")}</label>
        <input id="q-waybill" value={waybill} onInput={(e) => setWaybill((e.target as HTMLInputElement).value)} />
        <button type="submit">{t("queue.filter")}</button>
      </form>
      {list.error ? <ErrorBox error={list.error} onRetry={list.reload} /> : null}
      {!list.data ? (list.loading && <Loading />) : list.data.complaints.length === 0 ?
        <p class="muted">{t("queue.empty")}</p> : (
        <div class="table-wrap">
          <table class="queue">
            <thead><tr>
              <th scope="col">{t("queue.no")}</th><th scope="col">{t("queue.status")}</th>
              <th scope="col">{t("queue.type")}</th><th scope="col">{t("queue.priority")}</th>
              <th scope="col">{t("queue.waybill")}</th><th scope="col">{t("queue.customer")}</th>
              <th scope="col">{t("queue.received")}</th>
            </tr></thead>
            <tbody>
              {list.data.complaints.map((r) => (
                <tr class={r.due_at && Date.parse(r.due_at) < now ? "overdue" : ""}>
                  <td><a href={`/staff/case/${encodeURIComponent(r.complaint_no)}`}>{r.complaint_no}</a></td>
                  <td>{t(`st.${r.status}`, undefined, r.status)}</td>
                  <td>{t(`type.${r.type}`, undefined, r.type)}</td>
                  <td>P{r.priority}</td>
                  <td>{r.waybill_no}</td>
                  <td>{r.complainant ? `${r.complainant.name} ${r.complainant.phone}` : ""}</td>
                  <td>{fmtTime(r.received_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Shell>
  );
}

/** One part of the case page: its own request, its own error, so one failing service never
 *  blanks the whole case. */
function Part<T>(props: { title: string; id: string; load: (s: AbortSignal) => Promise<T>; deps: unknown[];
                          children: (data: T, reload: () => void) => ComponentChildren }) {
  const r = useLoad<T>(props.load, props.deps);
  return (
    <section class="card part" aria-labelledby={`${props.id}-h`} id={props.id}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      {r.data ? props.children(r.data, r.reload) : r.loading ? <Loading /> :
        <p class="muted">{t("case.unavailable", { msg: errorText(r.error) })}</p>}
    </section>
  );
}

function Facts(props: { obj: Record<string, unknown>; keys?: string[] }) {
  const keys = props.keys || Object.keys(props.obj);
  return (
    <dl class="facts">
      {keys.filter((k) => props.obj[k] !== undefined && props.obj[k] !== null && typeof props.obj[k] !== "object")
        .map((k) => <><dt>{k.replace(/_/g, " ")}</dt><dd>{String(props.obj[k])}</dd></>)}
    </dl>
  );
}

function Raw(props: { data: unknown }) {
  return (
    <details><summary>JSON</summary><pre class="raw">{JSON.stringify(props.data, null, 2)}</pre></details>
  );
}

export function CasePage(props: { no: string }) {
  const no = encodeURIComponent(props.no);
  const [msg, setMsg] = useState<string>("");
  const [err, setErr] = useState<unknown>(null);
  const [question, setQuestion] = useState("");
  const [tick, setTick] = useState(0);
  const act = async (path: string, body?: unknown, ok?: string) => {
    setErr(null);
    setMsg("");
    try {
      await staffCall(path, { method: "POST", body: body ?? {} });
      setMsg(ok || "OK");
      setTick((x) => x + 1);
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <Shell title={t("case.title", { no: props.no })} staff>
      <h1>{t("case.title", { no: props.no })}</h1>
      <div aria-live="polite" role="status">{msg && <p class="ok">{msg}</p>}</div>
      {err ? <ErrorBox error={err} /> : null}
      <div class="case-grid">
        <Part title={t("case.complaint")} id="part-complaint" deps={[no, tick]}
              load={(signal) => staffCall<any>(`/v1/complaints/${no}`, { signal })}>
          {(c) => (
            <>
              <p><span class={`badge st-${c.status}`}>{t(`st.${c.status}`, undefined, c.status)}</span>
                {" "}P{c.priority} · {t(`type.${c.type}`, undefined, c.type)} · {c.waybill_no}</p>
              <Facts obj={{ ...c, ...c.complainant }} keys={["name", "phone", "preferred_contact", "channel",
                "received_at", "next_update_by", "decision", "repeat_count", "previous_complaint_no"]} />
              <h3>{t("case.timeline")}</h3>
              <ol class="timeline">
                {[...(c.timeline || [])].reverse().map((s: any) => (
                  <li><span class="step">{t(`step.${s.step}`, undefined, s.step)}</span>
                    <time dateTime={s.at}>{fmtTime(s.at)}</time></li>
                ))}
              </ol>
              <button type="button" onClick={() => act(`/v1/complaints/${no}/accept`, undefined, t("offers.accepted", { no: props.no }))}>
                {t("case.accept")}
              </button>
            </>
          )}
        </Part>
        <Part title={t("case.clocks")} id="part-clocks" deps={[no, tick]}
              load={(signal) => staffCall<any>(`/v1/complaints/${no}/clocks`, { signal })}>
          {(d) => (
            <ul class="clocks">
              {(d.clocks || []).map((k: any) => {
                const start = Date.parse(k.started_at), due = Date.parse(k.due_at);
                const end = k.stopped_at ? Date.parse(k.stopped_at) : Date.now();
                const used = Math.max(0, Math.min(1, (end - start - (k.paused_s || 0) * 1000) / Math.max(1, due - start)));
                return (
                  <li class={`clock clock-${k.state}${used >= 1 && k.state !== "stopped" ? " over" : ""}`}>
                    <span class="clock-name">{k.clock}</span>
                    <progress max={100} value={Math.round(used * 100)} aria-label={k.clock} />
                    <span class="muted">{k.state} · {t("case.due", { time: fmtTime(k.due_at) })}
                      {k.escalation_level ? ` · ${k.escalated_to}` : ""}</span>
                  </li>
                );
              })}
            </ul>
          )}
        </Part>
        <Part title={t("case.classification")} id="part-classification" deps={[no, tick]}
              load={(signal) => staffCall<any>(`/v1/complaints/${no}/classification`, { signal })}>
          {(d) => <><Facts obj={d} keys={["category", "subcategory", "stated_type", "choice_reason",
            "text_category", "urgency", "severity", "tier", "priority", "sla_policy", "outlet_id"]} /><Raw data={d} /></>}
        </Part>
        <Part title={t("case.evidence")} id="part-evidence" deps={[no, tick]}
              load={(signal) => staffCall<any>(`/v1/complaints/${no}/evidence`, { signal })}>
          {(d) => <><Facts obj={{ ...d, ...(d.responsibility || {}) }} keys={["party", "party_id", "confidence",
            "preliminary", "reason", "version", "collected_at"]} /><Raw data={d} /></>}
        </Part>
        <Part title={t("case.proposals")} id="part-proposals" deps={[no, tick]}
              load={(signal) => staffCall<any>(`/v1/complaints/${no}/proposals`, { signal })}>
          {(d) => (d.proposals || []).length === 0 ? <p class="muted">{t("common.none")}</p> : (
            <ul class="proposals">
              {d.proposals.map((p: any) => (
                <li class="proposal">
                  <p><span class="badge">{p.status}</span> {fmtFen(p.total_fen)} · {t("case.rule")}: {p.rule}</p>
                  <ul>{(p.remedies || []).map((r: any) => <li>{r.kind} {fmtFen(r.amount_fen)} <span class="muted">{r.rule}</span></li>)}</ul>
                  {p.status === "pending_approval" && (
                    <div class="actions">
                      <button type="button" class="primary" onClick={() => act(`/v1/proposals/${p.id}/approve`, {}, t("case.approve"))}>{t("case.approve")}</button>
                      <button type="button" onClick={() => act(`/v1/proposals/${p.id}/reject`, { reason: "sent back from the console" }, t("case.reject"))}>{t("case.reject")}</button>
                    </div>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Part>
        <section class="card part" aria-labelledby="ask-h">
          <h2 id="ask-h">{t("case.ask")}</h2>
          <form noValidate onSubmit={(e) => {
            e.preventDefault();
            if (question.trim()) act(`/v1/complaints/${no}/await-customer`, { question: question.trim() }, t("case.ask.sent"))
              .then(() => setQuestion(""));
          }}>
            <label for="ask-text" class="sr-only">{t("case.ask")}</label>
            <textarea id="ask-text" rows={2} value={question} onInput={(e) => setQuestion((e.target as HTMLTextAreaElement).value)} />
            <button type="submit">{t("case.ask.send")}</button>
          </form>
        </section>
      </div>
    </Shell>
  );
}
