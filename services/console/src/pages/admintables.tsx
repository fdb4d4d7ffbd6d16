// The operator's tables on the admin page, each read from and written to the service that owns
// it: SLA policies, keywords and the VIP list (classification), working calendars (timer),
// message templates and delay reasons (followup), compensation policies and authority limits (resolution). Only
// an admin's writes are accepted (the API checks the role and records every change); a
// validation error names the field, and the page shows it next to the form.
import { useState } from "preact/hooks";
import { ApiError, call } from "../api";
import { fmtFen, t } from "../i18n";
import { Code, ErrorBox, Loading, useLoad } from "../ui";

const staffCall = <T,>(path: string, opts: Parameters<typeof call>[1] = {}) => call<T>(path, { ...opts, staff: true });

type Kind = "int" | "optint" | "text" | "opttext" | "list" | "bool" | "area" | "select";
interface Field { key: string; kind: Kind; options?: string[]; readonly?: boolean }
type Row = Record<string, any>;

const label = (key: string) => t(`field.${key}`, undefined, key);

function show(v: unknown): string {
  if (v == null) return "";
  if (Array.isArray(v)) return v.join(", ");
  if (typeof v === "boolean") return v ? t("common.yes") : t("common.no");
  return String(v);
}

/* The columns that hold domain codes: the table shows their labels (the code is the title and
 * what the edit form takes). */
const CODE_COLUMNS: Record<string, string> = {
  category: "category", subcategory: "subcat", urgency: "urgency", tier: "tier", role: "role",
  delay_remedy: "remedy", goods: "goods", step: "tpl", pausable_clocks: "clock",
  working_time_clocks: "clock",
};

function Codes(props: { family: string; value: unknown }) {
  const list = Array.isArray(props.value) ? props.value : [props.value];
  return <>{list.map((v, i) => <>{i ? ", " : ""}<Code family={props.family} code={String(v)} /></>)}</>;
}

/** The form's text for a row's value, and the value again from the text. */
function toText(f: Field, v: unknown): string {
  if (f.kind === "bool") return v ? "1" : "";
  return Array.isArray(v) ? v.join(", ") : v == null ? "" : String(v);
}
function fromText(f: Field, s: string): unknown {
  const x = s.trim();
  switch (f.kind) {
    case "int": return x === "" ? null : Number(x);
    case "optint": return x === "" ? null : Number(x);
    case "opttext": return x === "" ? null : x;
    case "list": return x === "" ? [] : x.split(/[,，\s]+/).filter(Boolean);
    case "bool": return s === "1";
    default: return s;
  }
}

/** The fields the API refused, under the form (each names the field as the API does). */
function Refused(props: { error: unknown }) {
  const e = props.error;
  if (!(e instanceof ApiError) || !e.fields.length) return e ? <ErrorBox error={e} /> : null;
  return (
    <div class="error" role="alert">
      <p>{t("adm.invalid")}</p>
      <ul class="refused">{e.fields.map((f) => <li><code>{f.field}</code>: {f.problem}</li>)}</ul>
    </div>
  );
}

function RowForm(props: { id: string; title: string; fields: Field[]; row: Row; isNew: boolean;
                          onSave: (row: Row) => Promise<void>; onCancel: () => void }) {
  const [vals, setVals] = useState<Record<string, string>>(
    Object.fromEntries(props.fields.map((f) => [f.key, toText(f, props.row[f.key])])));
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form noValidate class="admin-form row-form" id={props.id} onSubmit={async (e) => {
      e.preventDefault();
      setErr(null);
      setBusy(true);
      const row: Row = { ...props.row };
      for (const f of props.fields) row[f.key] = fromText(f, vals[f.key]);
      try {
        await props.onSave(row);
      } catch (x) {
        setErr(x);
      } finally {
        setBusy(false);
      }
    }}>
      <h3>{props.title}</h3>
      <div class="grid2">
        {props.fields.map((f) => {
          const id = `${props.id}-${f.key}`;
          const ro = f.readonly && !props.isNew;
          const set = (v: string) => setVals({ ...vals, [f.key]: v });
          if (f.kind === "bool")
            return (
              <label class="choice" for={id}>
                <input type="checkbox" id={id} checked={vals[f.key] === "1"}
                       onChange={(e) => set((e.target as HTMLInputElement).checked ? "1" : "")} />
                <span>{label(f.key)}</span>
              </label>
            );
          return (
            <div class={f.kind === "area" ? "wide-field" : undefined}>
              <label for={id}>{label(f.key)}</label>
              {f.kind === "select" ? (
                <select id={id} value={vals[f.key]} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
                  {(f.options || []).map((o) => <option value={o}>{o === "" ? "—" : o}</option>)}
                </select>
              ) : f.kind === "area" ? (
                <textarea id={id} rows={6} value={vals[f.key]} onInput={(e) => set((e.target as HTMLTextAreaElement).value)} />
              ) : (
                <input id={id} value={vals[f.key]} readOnly={ro} aria-readonly={ro || undefined}
                       inputMode={f.kind === "int" || f.kind === "optint" ? "numeric" : undefined}
                       onInput={(e) => set((e.target as HTMLInputElement).value)} />
              )}
            </div>
          );
        })}
      </div>
      <Refused error={err} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>{t("admin.save")}</button>
        <button type="button" onClick={props.onCancel}>{t("adm.cancel")}</button>
      </div>
    </form>
  );
}

/** One operator table: the rows, an edit button per row, an add button, the form, the result. */
function Table(props: { id: string; title: string; rows: Row[] | null; error: unknown; loading: boolean;
                        reload: () => void; cols: string[]; keyOf: (r: Row) => string; fields: Field[];
                        blank?: Row; save: (row: Row, isNew: boolean) => Promise<void>;
                        remove?: (row: Row) => Promise<void>; note?: string }) {
  const [editing, setEditing] = useState<{ row: Row; isNew: boolean } | null>(null);
  const [msg, setMsg] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const done = (key: string) => { setEditing(null); setMsg(t("admin.saved", { id: key })); props.reload(); };
  return (
    <section class="card" aria-labelledby={`${props.id}-h`} id={props.id}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      {props.note && <p class="muted">{props.note}</p>}
      {props.error ? <ErrorBox error={props.error} onRetry={props.reload} /> : null}
      {!props.rows ? (props.loading && <Loading />) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={props.title}>
          <table class={`adm-${props.id}`}>
            <caption class="sr-only">{props.title}</caption>
            <thead><tr>
              {props.cols.map((c) => <th scope="col">{label(c)}</th>)}
              <th scope="col"><span class="sr-only">{t("admin.edit")}</span></th>
            </tr></thead>
            <tbody>
              {props.rows.map((r) => (
                <tr data-key={props.keyOf(r)}>
                  {props.cols.map((c) => <td>{c.endsWith("_fen") && typeof r[c] === "number" ? `${r[c]} (${fmtFen(r[c])})`
                    : CODE_COLUMNS[c] && r[c] != null && r[c] !== "" ? <Codes family={CODE_COLUMNS[c]} value={r[c]} /> : show(r[c])}</td>)}
                  <td class="row-actions">
                    <button type="button" class="link" onClick={() => { setMsg(""); setEditing({ row: r, isNew: false }); }}>
                      {t("admin.edit")} {props.keyOf(r)}
                    </button>
                    {props.remove && (
                      <button type="button" class="link" onClick={async () => {
                        setErr(null);
                        try { await props.remove!(r); setMsg(t("adm.removed", { id: props.keyOf(r) })); props.reload(); }
                        catch (x) { setErr(x); }
                      }}>{t("adm.remove")} {props.keyOf(r)}</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div role="status" aria-live="polite">{msg && <p class="ok">{msg}</p>}</div>
      {err ? <Refused error={err} /> : null}
      {props.blank && !editing &&
        <button type="button" onClick={() => { setMsg(""); setEditing({ row: { ...props.blank }, isNew: true }); }}>{t("adm.add")}</button>}
      {editing && (
        <RowForm key={`${props.keyOf(editing.row)}-${editing.isNew}`} id={`${props.id}-form`}
                 title={editing.isNew ? t("adm.add") : `${t("admin.edit")} ${props.keyOf(editing.row)}`}
                 fields={props.fields} row={editing.row} isNew={editing.isNew}
                 onCancel={() => setEditing(null)}
                 onSave={async (row) => { await props.save(row, editing.isNew); done(props.keyOf(row)); }} />
      )}
    </section>
  );
}

const CLOCKS = ["first_response", "verification", "resolution", "whole_cycle", "accept", "next_update", "regulatory"];

export function SlaPolicies() {
  const pol = useLoad<{ policies: Row[] }>((s) => staffCall("/v1/sla-policies", { signal: s }), []);
  const rows = pol.data?.policies || null;
  return (
    <Table id="sla" title={t("adm.sla")} rows={rows} error={pol.error} loading={pol.loading} reload={pol.reload}
      cols={["name", "rank", "category", "subcategory", "urgency", "tier", "accept_s", "first_response_s",
             "verification_s", "resolution_s", "whole_cycle_s", "regulatory_s", "calendar"]}
      keyOf={(r) => r.name}
      note={t("adm.sla.note", { clocks: CLOCKS.join(", ") })}
      fields={[{ key: "name", kind: "text", readonly: true }, { key: "rank", kind: "int" },
               { key: "category", kind: "opttext" }, { key: "subcategory", kind: "opttext" },
               { key: "urgency", kind: "select", options: ["", "normal", "urgent", "very_urgent"] },
               { key: "tier", kind: "select", options: ["", "standard", "vip"] },
               { key: "accept_s", kind: "int" }, { key: "first_response_s", kind: "int" },
               { key: "verification_s", kind: "int" }, { key: "resolution_s", kind: "int" },
               { key: "whole_cycle_s", kind: "int" }, { key: "next_update_s", kind: "optint" },
               { key: "regulatory_s", kind: "int" }, { key: "pausable_clocks", kind: "list" },
               { key: "working_time_clocks", kind: "list" }, { key: "calendar", kind: "opttext" }]}
      blank={{ name: "", rank: 500, category: null, subcategory: null, urgency: null, tier: null, accept_s: 300,
               first_response_s: 180, verification_s: 1800, resolution_s: 86400, whole_cycle_s: 86400,
               next_update_s: null, regulatory_s: 604800, pausable_clocks: ["verification", "resolution"],
               working_time_clocks: [], calendar: null }}
      save={async (row, isNew) => {
        const clean = { ...row, urgency: row.urgency || null, tier: row.tier || null };
        const list = (rows || []).filter((r) => isNew || r.name !== row.name);
        await staffCall("/v1/sla-policies", { method: "PUT", body: { policies: [...list, clean] } });
      }} />
  );
}

/** "1 09:00-18:00" per line → {weekday, start_min, end_min}; "2026-10-01 off 国庆" or
 *  "2026-10-11 09:00-18:00 调休" → {day, working, start_min, end_min, note}. */
const hm = (s: string) => { const [h, m] = s.split(":").map(Number); return h * 60 + (m || 0); };
const fmtHm = (n: number) => `${String(Math.floor(n / 60)).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}`;
function parseHours(text: string) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const m = l.match(/^(\d)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/);
    return m ? { weekday: Number(m[1]), start_min: hm(m[2]), end_min: hm(m[3]) } : { weekday: l };
  });
}
function parseDays(text: string) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const [day, what, ...note] = l.split(/\s+/);
    const m = (what || "").match(/^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/);
    if (m) return { day, working: true, start_min: hm(m[1]), end_min: hm(m[2]), note: note.join(" ") };
    return { day, working: what === "off" ? false : what, note: note.join(" ") };
  });
}

export function Calendars() {
  const cal = useLoad<{ calendars: Row[] }>((s) => staffCall("/v1/calendars", { signal: s }), []);
  const rows = cal.data?.calendars.map((c) => ({
    ...c,
    hours_text: (c.hours || []).map((h: Row) => `${h.weekday} ${fmtHm(h.start_min)}-${fmtHm(h.end_min)}`).join("\n"),
    days_text: (c.days || []).map((d: Row) => `${d.day} ${d.working ? `${fmtHm(d.start_min)}-${fmtHm(d.end_min)}` : "off"}${d.note ? ` ${d.note}` : ""}`).join("\n"),
    hours_count: (c.hours || []).length, days_count: (c.days || []).length,
  })) || null;
  return (
    <Table id="calendars" title={t("adm.calendars")} rows={rows} error={cal.error} loading={cal.loading} reload={cal.reload}
      cols={["name", "utc_offset_min", "description", "hours_count", "days_count"]} keyOf={(r) => r.name}
      note={t("adm.calendars.note")}
      fields={[{ key: "name", kind: "text", readonly: true }, { key: "utc_offset_min", kind: "int" },
               { key: "description", kind: "text" }, { key: "hours_text", kind: "area" }, { key: "days_text", kind: "area" }]}
      blank={{ name: "", utc_offset_min: 480, description: "", hours_text: "1 09:00-18:00\n2 09:00-18:00\n3 09:00-18:00\n4 09:00-18:00\n5 09:00-18:00", days_text: "" }}
      save={async (row) => {
        await staffCall(`/v1/calendars/${encodeURIComponent(row.name)}`, { method: "PUT", body: {
          utc_offset_min: row.utc_offset_min, description: row.description,
          hours: parseHours(row.hours_text), days: parseDays(row.days_text) } });
      }} />
  );
}

export function Templates() {
  const tpl = useLoad<{ templates: Row[] }>((s) => staffCall("/v1/templates", { signal: s }), []);
  return (
    <Table id="templates" title={t("adm.templates")} rows={tpl.data?.templates || null} error={tpl.error}
      loading={tpl.loading} reload={tpl.reload} cols={["step", "language", "body", "updated_by"]}
      keyOf={(r) => `${r.step}/${r.language}`}
      fields={[{ key: "step", kind: "text", readonly: true }, { key: "language", kind: "text", readonly: true },
               { key: "body", kind: "area" }]}
      save={async (row) => { await staffCall("/v1/templates", { method: "PUT", body: { step: row.step, language: row.language, body: row.body } }); }} />
  );
}

// The words the proactive delay notice uses for each exception code a carrier's tracking feed
// sends; a code without a row reads "being checked" to the customer, never the code itself.
export function DelayReasons() {
  const dr = useLoad<{ delay_reasons: Row[] }>((s) => staffCall("/v1/delay-reasons", { signal: s }), []);
  return (
    <Table id="delay-reasons" title={t("adm.delay_reasons")} rows={dr.data?.delay_reasons || null} error={dr.error}
      loading={dr.loading} reload={dr.reload} cols={["code", "language", "text", "updated_by"]}
      keyOf={(r) => `${r.code}/${r.language}`}
      fields={[{ key: "code", kind: "text", readonly: true }, { key: "language", kind: "text", readonly: true },
               { key: "text", kind: "text" }]}
      blank={{ code: "", language: "zh-CN", text: "" }}
      save={async (row) => { await staffCall("/v1/delay-reasons", { method: "PUT", body: { code: row.code, language: row.language, text: row.text } }); }} />
  );
}

export function Keywords() {
  const kw = useLoad<{ keywords: Row[] }>((s) => staffCall("/v1/keywords", { signal: s }), []);
  const rows = kw.data?.keywords || null;
  const put = (list: Row[]) => staffCall("/v1/keywords", { method: "PUT", body: { keywords: list } });
  return (
    <Table id="keywords" title={t("adm.keywords")} rows={rows} error={kw.error} loading={kw.loading} reload={kw.reload}
      cols={["keyword", "kind", "category", "subcategory", "goods", "weight", "override"]} keyOf={(r) => r.keyword}
      fields={[{ key: "keyword", kind: "text", readonly: true }, { key: "kind", kind: "text" },
               { key: "category", kind: "opttext" }, { key: "subcategory", kind: "opttext" },
               { key: "goods", kind: "opttext" }, { key: "weight", kind: "int" }, { key: "override", kind: "bool" }]}
      blank={{ keyword: "", kind: "category", category: "transport", subcategory: "delay", goods: null, weight: 1, override: false }}
      save={async (row, isNew) => { await put([...(rows || []).filter((r) => isNew ? r.keyword !== row.keyword : r.keyword !== row.keyword), row]); }}
      remove={async (row) => { await put((rows || []).filter((r) => r.keyword !== row.keyword)); }} />
  );
}

export function CompensationPolicies() {
  const pol = useLoad<{ compensation_policies: Row[] }>((s) => staffCall("/v1/compensation-policies", { signal: s }), []);
  return (
    <Table id="compensation" title={t("adm.compensation")} rows={pol.data?.compensation_policies || null}
      error={pol.error} loading={pol.loading} reload={pol.reload}
      cols={["carrier", "freight_multiple", "declared_ceiling_fen", "damage_loss_pct", "delay_remedy",
             "delay_coupon_fen", "vip_coupon_fen", "last_mile_coupon_fen"]}
      keyOf={(r) => r.carrier} note={t("adm.compensation.note")}
      fields={[{ key: "carrier", kind: "text", readonly: true }, { key: "freight_multiple", kind: "int" },
               { key: "declared_ceiling_fen", kind: "int" }, { key: "damage_loss_pct", kind: "int" },
               { key: "delay_remedy", kind: "select", options: ["freight_waiver", "coupon"] },
               { key: "delay_coupon_fen", kind: "int" }, { key: "vip_coupon_fen", kind: "int" },
               { key: "last_mile_coupon_fen", kind: "int" }, { key: "description", kind: "text" }]}
      blank={{ carrier: "", freight_multiple: 3, declared_ceiling_fen: 2000000, damage_loss_pct: 100,
               delay_remedy: "freight_waiver", delay_coupon_fen: 500, vip_coupon_fen: 0, last_mile_coupon_fen: 0, description: "" }}
      save={async (row) => {
        const { carrier, created, ...body } = row;
        await staffCall(`/v1/compensation-policies/${encodeURIComponent(carrier)}`, { method: "PUT", body });
      }} />
  );
}

export function AuthorityLimits() {
  const lim = useLoad<{ authority_limits: Row[] }>((s) => staffCall("/v1/authority-limits", { signal: s }), []);
  return (
    <Table id="authority" title={t("adm.authority")} rows={lim.data?.authority_limits || null} error={lim.error}
      loading={lim.loading} reload={lim.reload} cols={["role", "max_fen"]} keyOf={(r) => r.role}
      note={t("adm.authority.note")}
      fields={[{ key: "role", kind: "text", readonly: true }, { key: "max_fen", kind: "int" }]}
      save={async (row) => { await staffCall(`/v1/authority-limits/${encodeURIComponent(row.role)}`, { method: "PUT", body: { max_fen: row.max_fen } }); }} />
  );
}

export function VipList() {
  const vip = useLoad<{ vip_customers: Row[] }>((s) => staffCall("/v1/vip-customers", { signal: s }), []);
  return (
    <Table id="vip" title={t("adm.vip")} rows={vip.data?.vip_customers || null} error={vip.error}
      loading={vip.loading} reload={vip.reload} cols={["customer_ref", "tier", "note", "added_at"]}
      keyOf={(r) => r.customer_ref} note={t("adm.vip.note")}
      fields={[{ key: "customer_ref", kind: "text", readonly: true }, { key: "note", kind: "text" }]}
      blank={{ customer_ref: "", note: "" }}
      save={async (row) => { await staffCall(`/v1/vip-customers/${encodeURIComponent(row.customer_ref)}`, { method: "PUT", body: { note: row.note } }); }}
      remove={async (row) => { await staffCall(`/v1/vip-customers/${encodeURIComponent(row.customer_ref)}`, { method: "DELETE" }); }} />
  );
}
