// The admin audit: who changed which operator table (or deleted which photo), when, from what to
// what, and why where a reason was given -- read from the service that keeps it
// (GET /v1/admin/audit/<service>, supervisors and admins), newest first, filtered by entity,
// actor and since, with "load more" following the API's keyset cursor.
import { useEffect, useState } from "preact/hooks";
import { call } from "../api";
import { fmtTime, t } from "../i18n";
import { ErrorBox, Loading, Shell } from "../ui";

const SERVICES = ["classification", "resolution", "timer", "followup", "intake"];
// The operator tables each service audits (the entity its audit_record calls name), shown by
// their console names: an admin looks for 照片 or 赔偿标准, not a table name.
const ENTITIES: Record<string, string[]> = {
  classification: ["staff", "sla_policies", "keywords", "vip_customers"],
  resolution: ["compensation_policies", "authority_limits", "auto_settlement_rules"],
  timer: ["calendars"],
  followup: ["templates", "delay_reasons"],
  intake: ["attachments"],
};
const entityName = (e: string) => t(`audit.table.${e}`, undefined, e);

interface Entry {
  id: number; at: string; actor: string; entity: string; key: string;
  before: unknown; after: unknown; reason: string | null;
}
interface Page { audit: Entry[]; count: number; next_cursor: string | null }
interface Filter { service: string; entity: string; actor: string; since: string }

function query(f: Filter, after: string | null): string {
  const q = new URLSearchParams({ limit: "50" });
  if (f.entity.trim()) q.set("entity", f.entity.trim());
  if (f.actor.trim()) q.set("actor", f.actor.trim());
  // a date from the picker is the start of that day in the browser's time zone
  if (f.since) q.set("since", new Date(`${f.since}T00:00:00`).toISOString());
  if (after) q.set("after", after);
  return `/v1/admin/audit/${f.service}?${q}`;
}

function Change(props: { e: Entry }) {
  const { e } = props;
  const what = e.before == null ? t("audit.added") : e.after == null ? t("audit.removed") : t("audit.changed");
  return (
    <details>
      <summary>{what}</summary>
      {e.before != null && <><h4>{t("audit.before")}</h4><pre>{JSON.stringify(e.before, null, 1)}</pre></>}
      {e.after != null && <><h4>{t("audit.after")}</h4><pre>{JSON.stringify(e.after, null, 1)}</pre></>}
    </details>
  );
}

function Rows(props: { rows: Entry[] }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={t("audit.title")}>
      <table class="audit">
        <caption class="sr-only">{t("audit.title")}</caption>
        <thead><tr>
          <th scope="col">{t("audit.at")}</th><th scope="col">{t("audit.actor")}</th>
          <th scope="col">{t("audit.entity")}</th><th scope="col">{t("audit.key")}</th>
          <th scope="col">{t("audit.reason")}</th><th scope="col">{t("audit.change")}</th>
        </tr></thead>
        <tbody>
          {props.rows.map((e) => (
            <tr data-audit={e.id}>
              <td><time dateTime={e.at}>{fmtTime(e.at)}</time></td><td>{e.actor}</td>
              <td>{entityName(e.entity)}</td><td>{e.key}</td><td>{e.reason || ""}</td><td><Change e={e} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Audit() {
  const [f, setF] = useState<Filter>({ service: "classification", entity: "", actor: "", since: "" });
  const [rows, setRows] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // the filter the rows were read with: "load more" continues that walk, not an edited form's
  const [shown, setShown] = useState<Filter>(f);
  const set = (k: keyof Filter) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  // another service audits other tables: its entity filter starts from all of them
  const setService = (e: Event) => setF({ ...f, service: (e.target as HTMLSelectElement).value, entity: "" });
  const load = async (after: string | null) => {
    const used = after ? shown : f;
    setErr(null);
    setBusy(true);
    try {
      const page = await call<Page>(query(used, after), { staff: true });
      setShown(used);
      setRows(after && rows ? [...rows, ...page.audit] : page.audit);
      setNext(page.next_cursor);
    } catch (x) {
      setErr(x);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { load(null); }, []);
  return (
    <Shell title={t("audit.title")} staff>
      <h1>{t("audit.title")}</h1>
      <p class="muted">{t("audit.note")}</p>
      <form noValidate class="card admin-form audit-filter" onSubmit={(e) => { e.preventDefault(); load(null); }}>
        <div class="grid2">
          <div><label for="audit-service">{t("audit.service")}</label>
            <select id="audit-service" value={f.service} onChange={setService}>
              {SERVICES.map((s) => <option value={s}>{t(`audit.svc.${s}`, undefined, s)}</option>)}
            </select></div>
          <div><label for="audit-entity">{t("audit.entity")}</label>
            <select id="audit-entity" value={f.entity} onChange={set("entity")}>
              <option value="">{t("audit.table.all")}</option>
              {(ENTITIES[f.service] || []).map((e) => <option value={e}>{entityName(e)}</option>)}
            </select></div>
          <div><label for="audit-actor">{t("audit.actor")}</label>
            <input id="audit-actor" maxLength={64} value={f.actor} onInput={set("actor")} /></div>
          <div><label for="audit-since">{t("audit.since")}</label>
            <input id="audit-since" type="date" value={f.since} onInput={set("since")} /></div>
        </div>
        <button type="submit" class="primary" disabled={busy}>{t("audit.show")}</button>
      </form>
      {err ? <ErrorBox error={err} /> : null}
      {busy && !rows && <Loading />}
      {rows && (
        <section class="card" aria-live="polite">
          {rows.length ? <Rows rows={rows} /> : <p>{t("audit.none")}</p>}
          {next && <button type="button" disabled={busy} onClick={() => load(next)}>{t("audit.more")}</button>}
        </section>
      )}
    </Shell>
  );
}
