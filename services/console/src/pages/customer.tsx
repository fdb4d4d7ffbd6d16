// The customer's pages; no login. The QR code on a waybill opens /c/{waybill}; the complaint's
// link (with its signed token) opens /c/status/{no}?token=…; the survey link /c/survey/{no}?token=….
import { useRef, useState } from "preact/hooks";
import { ApiError, call, randomKey, tokenOfLink, upload } from "../api";
import { fmtFen, fmtTime, has, label, t } from "../i18n";
import { navigate } from "../router";
import { ErrorBox, Loading, Shell, errorText, useLoad } from "../ui";
import { type ListedPhoto, OwnPhotos } from "./photos";

const WAYBILL = /^[A-Z0-9]{8,20}$/;
const TYPES = ["damage", "delay", "loss", "other"];
const GOODS = ["medicine", "fresh_food", "documents", "electronics", "valuables", "other"];
const DEMANDS = ["reship", "compensation", "apology", "freight_refund", "information"];
const CONTACTS = ["phone", "sms", "email", "app", "wechat"];

export function Home() {
  const [wb, setWb] = useState("");
  const [bad, setBad] = useState(false);
  return (
    <Shell title={t("home.title")}>
      <h1>{t("home.title")}</h1>
      <p>{t("home.lead")}</p>
      <form class="card" noValidate onSubmit={(e) => {
        e.preventDefault();
        const w = wb.trim().toUpperCase();
        if (!WAYBILL.test(w)) { setBad(true); return; }
        navigate(`/c/${encodeURIComponent(w)}`);
      }}>
        <label for="home-wb">{t("home.waybill")}</label>
        <input id="home-wb" name="waybill" autoComplete="off" inputMode="text" value={wb}
               aria-invalid={bad} aria-describedby={bad ? "home-wb-err" : undefined}
               onInput={(e) => { setWb((e.target as HTMLInputElement).value); setBad(false); }} />
        {bad && <p id="home-wb-err" class="field-error">8–20 A–Z / 0–9</p>}
        <button type="submit" class="primary">{t("home.start")}</button>
      </form>
      <Lookup />
      <p><a href="/staff/signin">{t("home.staff")}</a></p>
    </Shell>
  );
}

/** The status of a complaint from its number and the last four digits of the phone: the API
 *  answers only the status and the next step for that proof (the full case needs the link). */
function Lookup() {
  const [no, setNo] = useState("");
  const [last4, setLast4] = useState("");
  const [res, setRes] = useState<{ status: string; next_step: string; next_update_by: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="card" aria-labelledby="lookup-h">
      <h2 id="lookup-h">{t("home.lookup")}</h2>
      <p class="muted">{t("home.check")}</p>
      <form noValidate onSubmit={async (e) => {
        e.preventDefault();
        setRes(null);
        setError(null);
        if (!no.trim() || !/^\d{4}$/.test(last4.trim())) return;
        setBusy(true);
        try {
          setRes(await call(`/v1/complaints/${encodeURIComponent(no.trim().toUpperCase())}?phone_last4=${encodeURIComponent(last4.trim())}`));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}>
        <label for="lookup-no">{t("done.number")}</label>
        <input id="lookup-no" autoComplete="off" value={no} onInput={(e) => setNo((e.target as HTMLInputElement).value)} />
        <label for="lookup-last4">{t("home.last4")}</label>
        <input id="lookup-last4" inputMode="numeric" maxLength={4} autoComplete="off" value={last4}
               onInput={(e) => setLast4((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>{t("home.lookup.go")}</button>
      </form>
      <div role="status" aria-live="polite">
        {res && (
          <dl class="facts" id="lookup-result">
            <dt>{t("status.state")}</dt><dd><span class={`badge st-${res.status}`}>{t(`st.${res.status}`, undefined, res.status)}</span></dd>
            <dt>{t("status.next")}</dt><dd>{has(`next.${res.status}`) ? t(`next.${res.status}`) : res.next_step}
              {res.next_update_by && <span class="by">{t("status.by", { time: fmtTime(res.next_update_by) })}</span>}</dd>
          </dl>
        )}
        {error ? <p class="error">{error instanceof ApiError && [401, 403, 404].includes(error.status) ? t("home.lookup.none")
                                   : error instanceof ApiError && error.status === 429 ? t("home.lookup.wait") : errorText(error)}</p> : null}
      </div>
    </section>
  );
}

interface Filed {
  complaint_no: string;
  link: string;
  attached_to_open_case: boolean;
  photos?: PhotoResult[];
}

// What intake takes (ATTACHMENT_MAX_BYTES, ATTACHMENTS_PER_COMPLAINT): checked here first so a
// customer hears at once, and again by the server, which also checks the bytes themselves.
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const PHOTO_MAX_BYTES = 5 * 1024 * 1024;
const PHOTO_MAX = 5;

interface PhotoResult { name: string; ok: boolean; error?: string }

function photoProblem(f: File): string | null {
  if (!PHOTO_TYPES.includes(f.type)) return t("photos.bad_type", { name: f.name });
  if (f.size > PHOTO_MAX_BYTES) return t("photos.too_big", { name: f.name, mb: 5 });
  return null;
}

/** Sends the photos one by one to the case (the proof is the link's token). */
async function sendPhotos(no: string, token: string, files: File[]): Promise<PhotoResult[]> {
  const out: PhotoResult[] = [];
  for (const f of files) {
    try {
      await upload(`/v1/complaints/${encodeURIComponent(no)}/attachments?token=${encodeURIComponent(token)}`, f, f.type);
      out.push({ name: f.name, ok: true });
    } catch (e) {
      out.push({ name: f.name, ok: false, error: e instanceof ApiError ? e.fields[0]?.problem || e.message : String(e) });
    }
  }
  return out;
}

/** Picks up to `room` photos (JPEG, PNG, WebP, each within the size limit). */
function PhotoPicker(props: { id: string; files: File[]; room: number; onChange: (files: File[]) => void }) {
  const [problem, setProblem] = useState("");
  return (
    <div class="photo-picker">
      <label for={props.id}>{t("photos.add")}</label>
      <p class="hint" id={`${props.id}-hint`}>{t("photos.hint", { max: props.room, mb: 5 })}</p>
      <input id={props.id} type="file" accept={PHOTO_TYPES.join(",")} multiple
             aria-describedby={`${props.id}-hint${problem ? ` ${props.id}-err` : ""}`}
             aria-invalid={problem ? true : undefined}
             onChange={(e) => {
               const input = e.target as HTMLInputElement;
               const picked = Array.from(input.files || []);
               const bad = picked.map(photoProblem).filter(Boolean) as string[];
               const good = picked.filter((f) => !photoProblem(f));
               const next = [...props.files, ...good];
               if (next.length > props.room) bad.push(t("photos.too_many", { max: props.room }));
               setProblem(bad.join(" "));
               props.onChange(next.slice(0, props.room));
               input.value = "";
             }} />
      {problem && <p class="field-error" id={`${props.id}-err`}>{problem}</p>}
      {props.files.length > 0 && (
        <ul class="photo-list">
          {props.files.map((f, i) => (
            <li>
              <span>{f.name} · {Math.max(1, Math.round(f.size / 1024))} KB</span>
              <button type="button" class="link" aria-label={t("photos.remove", { name: f.name })}
                      onClick={() => props.onChange(props.files.filter((_, j) => j !== i))}>
                {t("photos.remove.short")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function PhotoOutcome(props: { results: PhotoResult[] }) {
  const ok = props.results.filter((r) => r.ok).length;
  return (
    <div class="photo-outcome">
      {ok > 0 && <p id="photos-sent">{t("photos.sent", { n: ok })}</p>}
      {props.results.filter((r) => !r.ok).map((r) =>
        <p class="error">{t("photos.failed", { name: r.name, why: r.error || "" })}</p>)}
    </div>
  );
}

function Choice(props: { name: string; type: "radio" | "checkbox"; value: string; label: string;
                         checked: boolean; onChange: (on: boolean) => void }) {
  const id = `${props.name}-${props.value}`;
  return (
    <label class="choice" for={id}>
      <input type={props.type} id={id} name={props.name} value={props.value} checked={props.checked}
             onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)} />
      <span>{props.label}</span>
    </label>
  );
}

function toggle(list: string[], v: string, on: boolean): string[] {
  return on ? [...list.filter((x) => x !== v), v] : list.filter((x) => x !== v);
}

export function Landing(props: { waybill: string }) {
  const [waybill, setWaybill] = useState(props.waybill.toUpperCase());
  const [role, setRole] = useState("recipient");
  const [type, setType] = useState("");
  const [goods, setGoods] = useState<string[]>([]);
  const [value, setValue] = useState("");
  const [demand, setDemand] = useState<string[]>([]);
  const [description, setDescription] = useState("");
  const [contact, setContact] = useState("sms");
  const [name, setName] = useState("");
  const [phone, setPhone] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [filed, setFiled] = useState<Filed | null>(null);
  const [photos, setPhotos] = useState<File[]>([]);
  // One Idempotency-Key per distinct body: a retry of the same submission (lost answer, double
  // tap) is answered with the same complaint; a changed form is a new request.
  const last = useRef<{ body: string; key: string } | null>(null);
  // The language messages are sent in: intake and follow-up's templates know zh-CN and en, so a
  // zh-Hant page files as zh-CN (the customer reads simplified messages; see the README).
  const lang = document.documentElement.lang === "en" ? "en" : "zh-CN";

  if (filed) {
    const token = tokenOfLink(filed.link);
    const statusUrl = `/c/status/${encodeURIComponent(filed.complaint_no)}?token=${encodeURIComponent(token)}`;
    return (
      <Shell title={t("done.title")}>
        <h1>{t("done.title")}</h1>
        <div class="card done" role="status">
          {filed.attached_to_open_case && <p>{t("done.joined")}</p>}
          {filed.photos && filed.photos.length > 0 && <PhotoOutcome results={filed.photos} />}
          <p>{t("done.number")}</p>
          <p class="number" id="complaint-no">{filed.complaint_no}</p>
          <p>{t("done.keep")}</p>
          <p class="link-text">{location.origin + statusUrl}</p>
          <a class="button primary" href={statusUrl}>{t("done.open")}</a>
        </div>
      </Shell>
    );
  }

  const validate = (): Record<string, string> => {
    const e: Record<string, string> = {};
    if (!WAYBILL.test(waybill)) e.waybill_no = "8–20 A–Z / 0–9";
    if (!type) e.type = t("form.pick_type");
    if (!description.trim()) e.description = t("common.required");
    if (!name.trim()) e["complainant.name"] = t("common.required");
    if (!/^\+?[0-9]{8,15}$/.test(phone.replace(/[\s-]/g, ""))) e["complainant.phone"] = t("common.required");
    if (value && !(Number(value) >= 0)) e["impact.declared_value_fen"] = "≥ 0";
    return e;
  };

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setFailure(null);
    const e = validate();
    setErrors(e);
    if (Object.keys(e).length) {
      (document.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus();
      return;
    }
    const impact: Record<string, unknown> = { goods };
    if (value) impact.declared_value_fen = Math.round(Number(value) * 100);
    const body = {
      channel: "qr", waybill_no: waybill, type, description: description.trim(), demand, impact,
      complainant: { name: name.trim(), phone: phone.replace(/[\s-]/g, ""), role, language: lang,
                     preferred_contact: contact },
    };
    const text = JSON.stringify(body);
    if (!last.current || last.current.body !== text) last.current = { body: text, key: randomKey() };
    setBusy(true);
    try {
      const res = await call<Filed>("/v1/complaints", { method: "POST", body,
        headers: { "Idempotency-Key": last.current.key } });
      // the complaint is filed; its photos follow with the proof its link carries
      if (photos.length) res.photos = await sendPhotos(res.complaint_no, tokenOfLink(res.link), photos);
      setFiled(res);
      window.scrollTo(0, 0);
    } catch (err) {
      if (err instanceof ApiError && err.fields.length) {
        const fe: Record<string, string> = {};
        for (const f of err.fields) fe[f.field] = f.problem;
        setErrors(fe);
      }
      setFailure(err);
    } finally {
      setBusy(false);
    }
  };

  const err = (field: string) => errors[field] ?
    <p class="field-error" id={`err-${field.replace(/\W/g, "-")}`}>{errors[field]}</p> : null;
  const inv = (field: string) => ({
    "aria-invalid": errors[field] ? true : undefined,
    "aria-describedby": errors[field] ? `err-${field.replace(/\W/g, "-")}` : undefined,
  });

  return (
    <Shell title={t("form.title", { waybill })}>
      <h1>{t("form.title", { waybill })}</h1>
      <p>{t("form.lead")}</p>
      <form class="card complaint-form" noValidate onSubmit={submit}>
        <label for="f-waybill">{t("form.waybill")}</label>
        <input id="f-waybill" name="waybill_no" value={waybill} autoComplete="off" {...inv("waybill_no")}
               onInput={(e) => setWaybill((e.target as HTMLInputElement).value.toUpperCase())} />
        {err("waybill_no")}

        <fieldset>
          <legend>{t("form.role")}</legend>
          <div class="choices">
            {["recipient", "sender"].map((r) =>
              <Choice name="role" type="radio" value={r} label={t(`role.${r}`)} checked={role === r}
                      onChange={(on) => on && setRole(r)} />)}
          </div>
        </fieldset>

        <fieldset {...inv("type")}>
          <legend>{t("form.type")}</legend>
          <div class="choices">
            {TYPES.map((v) =>
              <Choice name="type" type="radio" value={v} label={t(`type.${v}`)} checked={type === v}
                      onChange={(on) => on && setType(v)} />)}
          </div>
          {err("type")}
        </fieldset>

        <fieldset>
          <legend>{t("form.impact")}</legend>
          <div class="choices">
            {GOODS.map((v) =>
              <Choice name="goods" type="checkbox" value={v} label={t(`goods.${v}`)}
                      checked={goods.includes(v)} onChange={(on) => setGoods(toggle(goods, v, on))} />)}
          </div>
          <label for="f-value">{t("form.value")} <span class="muted">({t("common.optional")})</span></label>
          <input id="f-value" name="declared_value" inputMode="decimal" value={value}
                 {...inv("impact.declared_value_fen")}
                 onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
          {err("impact.declared_value_fen")}
        </fieldset>

        <fieldset>
          <legend>{t("form.demand")}</legend>
          <div class="choices">
            {DEMANDS.map((v) =>
              <Choice name="demand" type="checkbox" value={v} label={t(`demand.${v}`)}
                      checked={demand.includes(v)} onChange={(on) => setDemand(toggle(demand, v, on))} />)}
          </div>
        </fieldset>

        <label for="f-description">{t("form.description")}</label>
        <textarea id="f-description" name="description" rows={4} maxLength={2000}
                  placeholder={t("form.description.hint")} value={description} {...inv("description")}
                  onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
        {err("description")}

        <fieldset>
          <legend>{t("photos.title")} <span class="muted">({t("common.optional")})</span></legend>
          <PhotoPicker id="f-photos" files={photos} room={PHOTO_MAX} onChange={setPhotos} />
        </fieldset>

        <label for="f-contact">{t("form.contact")}</label>
        <select id="f-contact" name="preferred_contact" value={contact}
                onChange={(e) => setContact((e.target as HTMLSelectElement).value)}>
          {CONTACTS.map((c) => <option value={c}>{t(`contact.${c}`)}</option>)}
        </select>

        <label for="f-name">{t("form.name")}</label>
        <input id="f-name" name="name" autoComplete="name" maxLength={50} value={name}
               {...inv("complainant.name")} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        {err("complainant.name")}

        <label for="f-phone">{t("form.phone")}</label>
        <input id="f-phone" name="phone" type="tel" autoComplete="tel" inputMode="tel" value={phone}
               {...inv("complainant.phone")} onInput={(e) => setPhone((e.target as HTMLInputElement).value)} />
        <p class="hint">{t("form.phone.hint")}</p>
        {err("complainant.phone")}

        {failure && (Object.keys(errors).length ? <p class="error" role="alert">{t("form.invalid")}</p>
                                                : <ErrorBox error={failure} />)}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("common.sending") : t("form.submit")}
        </button>
      </form>
    </Shell>
  );
}

interface CaseView {
  complaint_no: string;
  status: string;
  waybill_no: string;
  type: string;
  next_step: string;
  next_update_by: string | null;
  decision: string | null;
  timeline: { step: string; at: string; detail?: Record<string, unknown> }[];
  attachments?: ListedPhoto[];
  owner?: { first_name: string | null; role: string } | null;
  next_step_by?: string | null;
}

/** The decision as intake words it for every language ("compensation 120.00 CNY, apology":
 *  intake's decision_text) in the customer's language: each remedy's label, an amount in the
 *  page's money format. Anything else is shown as it came. */
export function decisionText(decision: string): string {
  const parts = decision.split(", ").map((part) => {
    const m = /^([a-z_]+)(?: (\d+)\.(\d{2}) ([A-Z]{3}))?$/.exec(part);
    if (!m) return null;
    const what = label("remedy", m[1]);
    return m[2] ? `${what} ${fmtFen(Number(m[2]) * 100 + Number(m[3]), m[4])}` : what;
  });
  return parts.every((x) => x != null) ? parts.join(t("common.list_sep")) : decision;
}

const SURVEY_STATES = new Set(["executed", "awaiting_confirmation"]);
const FINAL = new Set(["closed", "merged", "withdrawn"]);

export function Status(props: { no: string; token: string }) {
  const view = useLoad<CaseView>((signal) =>
    call(`/v1/complaints/${encodeURIComponent(props.no)}?token=${encodeURIComponent(props.token)}`,
         { signal }), [props.no, props.token]);
  const title = t("status.title", { no: props.no });
  const c = view.data;
  if (!c) {
    const denied = view.error instanceof ApiError && [401, 403, 404].includes(view.error.status);
    return (
      <Shell title={title}>
        <h1>{title}</h1>
        {view.loading ? <Loading /> : denied ? <p class="error" role="alert">{t("status.badlink")}</p>
                                             : <ErrorBox error={view.error} onRetry={view.reload} />}
      </Shell>
    );
  }
  const q = `?token=${encodeURIComponent(props.token)}`;
  return (
    <Shell title={title}>
      <h1>{title}</h1>
      <section class="card" aria-labelledby="st-h">
        <h2 id="st-h" class="sr-only">{t("status.state")}</h2>
        <dl class="facts">
          <dt>{t("status.state")}</dt>
          <dd><span class={`badge st-${c.status}`} id="case-status">{t(`st.${c.status}`, undefined, c.status)}</span></dd>
          <dt>{t("status.waybill")}</dt><dd>{c.waybill_no}</dd>
          {!FINAL.has(c.status) && <>
            <dt>{t("status.owner")}</dt>
            <dd id="case-owner">{c.owner ? t("status.owner.is", {
              name: c.owner.first_name || t("status.owner.noname"),
              role: t(`role.${c.owner.role}`, undefined, c.owner.role) }) : t("status.owner.none")}</dd>
          </>}
          <dt>{t("status.next")}</dt>
          <dd id="case-next">
            {has(`next.${c.status}`) ? t(`next.${c.status}`) : c.next_step}
            {c.next_step_by && !FINAL.has(c.status) &&
              <span class="by" id="case-next-by">{t("status.step_by", { time: fmtTime(c.next_step_by) })}</span>}
            {c.next_update_by && !FINAL.has(c.status) &&
              <span class="by">{t("status.by", { time: fmtTime(c.next_update_by) })}</span>}
          </dd>
          {c.decision && <><dt>{t("status.decision")}</dt><dd id="case-decision">{decisionText(c.decision)}</dd></>}
        </dl>
        {SURVEY_STATES.has(c.status) &&
          <a class="button primary" href={`/c/survey/${encodeURIComponent(c.complaint_no)}${q}`}>{t("status.survey")}</a>}
        {c.status === "closed" && <p class="muted">{t("status.appeal")}</p>}
      </section>

      <section class="card" aria-labelledby="tl-h">
        <h2 id="tl-h">{t("status.timeline")}</h2>
        <ol class="timeline">
          {[...c.timeline].reverse().map((s) => (
            <li>
              <span class="step">{t(`step.${s.step}`, undefined, s.step.replace(/_/g, " "))}</span>
              <time dateTime={s.at}>{fmtTime(s.at)}</time>
            </li>
          ))}
        </ol>
      </section>

      {!FINAL.has(c.status) && <Reply no={c.complaint_no} token={props.token} onSent={view.reload} />}
      {(!FINAL.has(c.status) || (c.attachments || []).length > 0) &&
        <StatusPhotos no={c.complaint_no} token={props.token} have={c.attachments || []}
                      open={!FINAL.has(c.status)} onSent={view.reload} />}
    </Shell>
  );
}

/** The photos the case holds: the customer's own as thumbnails (read with the link's proof),
 *  the count of all, and more while the case is open. */
function StatusPhotos(props: { no: string; token: string; have: ListedPhoto[];
                               open: boolean; onSent: () => void }) {
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<PhotoResult[] | null>(null);
  const room = Math.max(0, PHOTO_MAX - props.have.length);
  return (
    <section class="card" aria-labelledby="ph-h">
      <h2 id="ph-h">{t("photos.title")}</h2>
      <p id="case-photos">{props.have.length ? t("photos.count", { n: props.have.length }) : t("photos.none")}</p>
      <OwnPhotos photos={props.have} token={props.token} />
      {props.open && room > 0 && (
        <form noValidate onSubmit={async (e) => {
          e.preventDefault();
          if (!files.length) return;
          setBusy(true);
          setResults(await sendPhotos(props.no, props.token, files));
          setFiles([]);
          setBusy(false);
          props.onSent();
        }}>
          <PhotoPicker id="st-photos" files={files} room={room} onChange={(f) => { setFiles(f); setResults(null); }} />
          <div role="status" aria-live="polite">{results && <PhotoOutcome results={results} />}</div>
          <button type="submit" disabled={busy || !files.length}>{busy ? t("common.sending") : t("photos.send")}</button>
        </form>
      )}
    </section>
  );
}

function Reply(props: { no: string; token: string; onSent: () => void }) {
  const [text, setText] = useState("");
  const [state, setState] = useState<"idle" | "busy" | "sent">("idle");
  const [error, setError] = useState<unknown>(null);
  return (
    <section class="card" aria-labelledby="reply-h">
      <h2 id="reply-h">{t("status.reply")}</h2>
      <form noValidate onSubmit={async (e) => {
        e.preventDefault();
        if (!text.trim()) return;
        setState("busy");
        setError(null);
        try {
          await call(`/v1/complaints/${encodeURIComponent(props.no)}/messages?token=${encodeURIComponent(props.token)}`,
                     { method: "POST", body: { text: text.trim() } });
          setText("");
          setState("sent");
          props.onSent();
        } catch (err) {
          setError(err);
          setState("idle");
        }
      }}>
        <label for="reply-text">{t("status.reply.label")}</label>
        <textarea id="reply-text" rows={3} maxLength={2000} value={text}
                  onInput={(e) => { setText((e.target as HTMLTextAreaElement).value); setState("idle"); }} />
        {state === "sent" && <p class="ok" role="status">{t("status.reply.sent")}</p>}
        {error ? <ErrorBox error={error} /> : null}
        <button type="submit" disabled={state === "busy"}>{t("status.reply.send")}</button>
      </form>
    </section>
  );
}

export function Survey(props: { no: string; token: string }) {
  const [score, setScore] = useState(0);
  const [solved, setSolved] = useState<boolean | null>(null);
  const [comment, setComment] = useState("");
  const [state, setState] = useState<"idle" | "busy" | "done" | "closed">("idle");
  const [error, setError] = useState<unknown>(null);
  const title = t("survey.title");
  const back = `/c/status/${encodeURIComponent(props.no)}?token=${encodeURIComponent(props.token)}`;
  if (state === "done" || state === "closed") {
    return (
      <Shell title={title}>
        <h1>{state === "done" ? t("survey.thanks") : title}</h1>
        {state === "closed" && <p role="status">{t("survey.closed")}</p>}
        <p><a class="button" href={back}>{t("done.open")}</a></p>
      </Shell>
    );
  }
  return (
    <Shell title={title}>
      <h1>{title}</h1>
      <p class="muted">{t("status.title", { no: props.no })}</p>
      <form class="card" noValidate onSubmit={async (e) => {
        e.preventDefault();
        if (!score || solved === null) return;
        setState("busy");
        setError(null);
        try {
          const body: Record<string, unknown> = { score, solved };
          if (comment.trim()) body.comment = comment.trim();
          await call(`/v1/complaints/${encodeURIComponent(props.no)}/survey?token=${encodeURIComponent(props.token)}`,
                     { method: "POST", body });
          setState("done");
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) setState("closed");
          else { setError(err); setState("idle"); }
        }
      }}>
        <fieldset>
          <legend>{t("survey.score")}</legend>
          <div class="choices scores">
            {[1, 2, 3, 4, 5].map((s) =>
              <Choice name="score" type="radio" value={String(s)} label={String(s)} checked={score === s}
                      onChange={(on) => on && setScore(s)} />)}
          </div>
        </fieldset>
        <fieldset>
          <legend>{t("survey.solved")}</legend>
          <div class="choices">
            <Choice name="solved" type="radio" value="yes" label={t("common.yes")} checked={solved === true}
                    onChange={(on) => on && setSolved(true)} />
            <Choice name="solved" type="radio" value="no" label={t("common.no")} checked={solved === false}
                    onChange={(on) => on && setSolved(false)} />
          </div>
        </fieldset>
        <label for="survey-comment">{t("survey.comment")} <span class="muted">({t("common.optional")})</span></label>
        <textarea id="survey-comment" rows={3} maxLength={1000} value={comment}
                  onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
        {error ? <p class="error" role="alert">{errorText(error)}</p> : null}
        <button type="submit" class="primary" disabled={state === "busy" || !score || solved === null}>
          {t("survey.send")}
        </button>
      </form>
    </Shell>
  );
}
