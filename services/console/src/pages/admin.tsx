// The admin's page: the staff registry (who may be offered cases, where they are, whether they
// are on duty, the first name customers see) with a form to add or change a member, and the
// other operator tables (admintables.tsx). Each table is read from and written to the service
// that owns it; the API checks the role (admins write, supervisors read) and audits changes.
import { useState } from "preact/hooks";
import { call } from "../api";
import { t } from "../i18n";
import { ErrorBox, Loading, Shell, useLoad } from "../ui";
import { AuthorityLimits, Calendars, CompensationPolicies, Keywords, SlaPolicies, Templates, VipList, DelayReasons } from "./admintables";
import { Passwords } from "./account";

const staffCall = <T,>(path: string, opts: Parameters<typeof call>[1] = {}) => call<T>(path, { ...opts, staff: true });
const ROLES = ["agent", "courier", "outlet_manager", "regional_supervisor", "hq"];

function Registry() {
  const reg = useLoad<{ staff: any[] }>((signal) => staffCall("/v1/staff-registry", { signal }), []);
  const [f, setF] = useState({ staff_id: "", first_name: "", outlet_id: "", role: "agent", lat: "", lon: "", region_id: "", available: true });
  const [msg, setMsg] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const set = (k: string) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const edit = (s: any) => setF({ staff_id: s.staff_id, first_name: s.first_name || "", outlet_id: s.outlet_id || "", role: s.role,
    lat: s.lat == null ? "" : String(s.lat), lon: s.lon == null ? "" : String(s.lon),
    region_id: s.region_id || "", available: !!s.available });
  return (
    <section class="card" aria-labelledby="reg-h">
      <h2 id="reg-h">{t("admin.registry")}</h2>
      {reg.error ? <ErrorBox error={reg.error} onRetry={reg.reload} /> : null}
      {!reg.data ? (reg.loading && <Loading />) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={t("admin.registry")}>
          <table class="registry">
            <caption class="sr-only">{t("admin.registry")}</caption>
            <thead><tr>
              <th scope="col">{t("admin.staff_id")}</th><th scope="col">{t("admin.first_name")}</th><th scope="col">{t("queue.outlet")}</th>
              <th scope="col">{t("admin.role")}</th><th scope="col">{t("admin.region")}</th>
              <th scope="col">{t("admin.position")}</th><th scope="col">{t("admin.available")}</th><th scope="col"><span class="sr-only">{t("admin.edit")}</span></th>
            </tr></thead>
            <tbody>
              {reg.data.staff.map((s) => (
                <tr data-staff={s.staff_id}>
                  <td>{s.staff_id}</td><td>{s.first_name || ""}</td><td>{s.outlet_id}</td><td>{t(`role.${s.role}`, undefined, s.role)}</td>
                  <td>{s.region_id || ""}</td>
                  <td>{s.lat != null ? `${Number(s.lat).toFixed(4)}, ${Number(s.lon).toFixed(4)}` : ""}</td>
                  <td>{s.available ? t("common.yes") : t("common.no")}</td>
                  <td><button type="button" class="link" onClick={() => edit(s)}>{t("admin.edit")} {s.staff_id}</button></td>
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
        if (!f.staff_id.trim()) return;
        const body: Record<string, unknown> = { outlet_id: f.outlet_id.trim(), role: f.role, available: f.available };
        if (f.lat !== "") body.lat = Number(f.lat);
        if (f.lon !== "") body.lon = Number(f.lon);
        if (f.region_id.trim()) body.region_id = f.region_id.trim();
        body.first_name = f.first_name.trim() || null;
        try {
          await staffCall(`/v1/staff-registry/${encodeURIComponent(f.staff_id.trim())}`, { method: "PUT", body });
          setMsg(t("admin.saved", { id: f.staff_id.trim() }));
          reg.reload();
        } catch (x) {
          setErr(x);
        }
      }}>
        <h3>{t("admin.member")}</h3>
        <div class="grid2">
          <div><label for="reg-id">{t("admin.staff_id")}</label><input id="reg-id" value={f.staff_id} onInput={set("staff_id")} /></div>
          <div><label for="reg-first">{t("admin.first_name")}</label><input id="reg-first" maxLength={20} aria-describedby="reg-first-hint" value={f.first_name} onInput={set("first_name")} />
            <p class="hint" id="reg-first-hint">{t("admin.first_name.hint")}</p></div>
          <div><label for="reg-outlet">{t("queue.outlet")}</label><input id="reg-outlet" value={f.outlet_id} onInput={set("outlet_id")} /></div>
          <div><label for="reg-role">{t("admin.role")}</label>
            <select id="reg-role" value={f.role} onChange={set("role")}>
              {ROLES.map((r) => <option value={r}>{t(`role.${r}`, undefined, r)}</option>)}
            </select></div>
          <div><label for="reg-region">{t("admin.region")}</label><input id="reg-region" value={f.region_id} onInput={set("region_id")} /></div>
          <div><label for="reg-lat">{t("admin.lat")}</label><input id="reg-lat" inputMode="decimal" value={f.lat} onInput={set("lat")} /></div>
          <div><label for="reg-lon">{t("admin.lon")}</label><input id="reg-lon" inputMode="decimal" value={f.lon} onInput={set("lon")} /></div>
        </div>
        <label class="choice" for="reg-available">
          <input type="checkbox" id="reg-available" checked={f.available}
                 onChange={(e) => setF({ ...f, available: (e.target as HTMLInputElement).checked })} />
          <span>{t("admin.available")}</span>
        </label>
        <div role="status" aria-live="polite">{msg && <p class="ok">{msg}</p>}</div>
        {err ? <ErrorBox error={err} /> : null}
        <button type="submit" class="primary">{t("admin.save")}</button>
      </form>
    </section>
  );
}

export function Admin() {
  return (
    <Shell title={t("admin.title")} staff>
      <h1>{t("admin.title")}</h1>
      <nav class="card admin-nav" aria-label={t("adm.tables")}>
        <ul>
          {[["reg-h", "admin.registry"], ["sla", "adm.sla"], ["calendars", "adm.calendars"], ["templates", "adm.templates"], ["delay-reasons", "adm.delay_reasons"],
            ["keywords", "adm.keywords"], ["compensation", "adm.compensation"], ["authority", "adm.authority"], ["vip", "adm.vip"]]
            .map(([id, key]) => <li><a href={`#${id}`}>{t(key)}</a></li>)}
          <li><a href="/staff/audit">{t("audit.title")}</a></li>
        </ul>
      </nav>
      <Registry />
      <Passwords />
      <SlaPolicies />
      <Calendars />
      <Templates />
      <DelayReasons />
      <Keywords />
      <CompensationPolicies />
      <AuthorityLimits />
      <VipList />
    </Shell>
  );
}
