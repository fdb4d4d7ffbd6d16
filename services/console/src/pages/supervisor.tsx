// The supervisor's page: the approval inbox and the dashboard of /v1/stats. ECharts is loaded on
// demand (a chunk of its own), so the customer pages never download it.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "../api";
import { fmtFen, fmtTime, label, t } from "../i18n";
import { Code, ErrorBox, Loading, Shell, useLoad } from "../ui";
import { planMoney } from "./staff";

const staffCall = <T,>(path: string, opts: Parameters<typeof call>[1] = {}) => call<T>(path, { ...opts, staff: true });

interface Pending {
  no: string;
  proposal: any;
}

async function loadInbox(signal: AbortSignal): Promise<Pending[]> {
  const list = await staffCall<{ complaints: { complaint_no: string }[] }>(
    "/v1/staff/complaints?status=pending_approval&limit=100", { signal });
  const out: Pending[] = [];
  for (const c of list.complaints) {
    const d = await staffCall<{ proposals: any[] }>(`/v1/complaints/${encodeURIComponent(c.complaint_no)}/proposals`, { signal });
    for (const p of d.proposals) if (p.status === "pending_approval") out.push({ no: c.complaint_no, proposal: p });
  }
  return out;
}

function Inbox() {
  const inbox = useLoad(loadInbox, []);
  const [msg, setMsg] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const act = async (p: Pending, what: "approve" | "reject") => {
    setErr(null);
    try {
      await staffCall(`/v1/proposals/${p.proposal.id}/${what}`, { method: "POST",
        body: what === "reject" ? { reason: "sent back from the approval inbox" } : {} });
      setMsg(`${p.no}: ${t(what === "approve" ? "case.approve" : "case.reject")} ✓`);
      inbox.reload();
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <section class="card" aria-labelledby="inbox-h">
      <h2 id="inbox-h">{t("sup.inbox")}</h2>
      <div role="status" aria-live="polite">{msg && <p class="ok">{msg}</p>}</div>
      {err ? <ErrorBox error={err} /> : null}
      {inbox.error ? <ErrorBox error={inbox.error} onRetry={inbox.reload} /> : null}
      {!inbox.data ? <Loading /> : inbox.data.length === 0 ? <p class="muted">{t("sup.inbox.empty")}</p> : (
        <ul class="proposals">
          {inbox.data.map((p) => (
            <li class="proposal">
              <p><a href={`/staff/case/${encodeURIComponent(p.no)}`}>{p.no}</a> · <strong>{planMoney(p.proposal)}</strong>
                {p.proposal.rule && <> · <Code family="rule" code={p.proposal.rule} /></>}
                {" "}· {p.proposal.proposed_by ? label("actor", p.proposal.proposed_by) : ""} · {fmtTime(p.proposal.created_at)}</p>
              <div class="actions">
                <button type="button" class="primary" onClick={() => act(p, "approve")}>{t("case.approve")} {p.no}</button>
                <button type="button" onClick={() => act(p, "reject")}>{t("case.reject")}</button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function pct(x: number | null | undefined): string {
  return x == null ? "–" : `${Math.round(x * 1000) / 10}%`;
}

function secs(x: number | null | undefined): string {
  if (x == null) return "–";
  if (x < 120) return `${Math.round(x)} s`;
  if (x < 7200) return `${Math.round(x / 60)} min`;
  return `${Math.round(x / 360) / 10} h`;
}

function Chart(props: { option: any; label: string; id: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let chart: any, gone = false;
    const resize = () => chart && chart.resize();
    import("../charts").then(({ echarts }) => {
      if (gone || !el.current) return;
      chart = echarts.init(el.current, undefined, { renderer: "svg" });
      // no animation: the figures are read, not watched, and screenshots show the real bars
      chart.setOption({ animation: false, ...props.option });
      el.current.dataset.ready = "1";
      window.addEventListener("resize", resize);
    });
    return () => { gone = true; window.removeEventListener("resize", resize); chart && chart.dispose(); };
  }, [JSON.stringify(props.option)]);
  return <div class="chart" id={props.id} ref={el} role="img" aria-label={props.label} />;
}

/** Every figure as one CSV row (figure, value, previous period's value). */
function toCsv(cur: any, prev: any): string {
  const rows: string[][] = [];
  const walk = (a: any, b: any, prefix: string) => {
    for (const [k, v] of Object.entries(a || {})) {
      const name = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === "object" && !Array.isArray(v)) walk(v, b?.[k], name);
      else if (!Array.isArray(v)) rows.push([name, v == null ? "" : String(v), b?.[k] == null ? "" : String(b[k])]);
    }
  };
  walk(cur, prev, "");
  return "figure,value,previous_period\n" +
    rows.map((r) => r.map((c) => /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c).join(",")).join("\n") + "\n";
}

const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");

function Dashboard() {
  const [days, setDays] = useState(30);
  const stats = useLoad<{ cur: any; prev: any }>(async (signal) => {
    // the chosen period and the one before it, for the period-over-period comparison
    const to = new Date(Date.now() + 60_000), from = new Date(to.getTime() - days * 86400_000);
    const before = new Date(from.getTime() - days * 86400_000);
    const [cur, prev] = await Promise.all([
      staffCall(`/v1/stats?from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`, { signal }),
      staffCall(`/v1/stats?from=${encodeURIComponent(iso(before))}&to=${encodeURIComponent(iso(from))}`, { signal }),
    ]);
    return { cur, prev };
  }, [days]);
  const s = stats.data?.cur, p = stats.data?.prev;
  const compliance: [string, number | null][] = s ? [
    [t("clock.accept"), s.accept?.compliance], [t("clock.first_response"), s.first_contact?.compliance],
    [t("clock.verification"), s.verification?.compliance],
    ...Object.entries(s.sla_compliance || {}).map(([k, v]) => [`SLA ${t(`clock.${k}`, undefined, k)}`, v as number] as [string, number]),
  ] : [];
  const causes: any[] = s?.top_causes || [];
  const agents: any[] = s?.by_agent || [];
  const csvHref = s ? URL.createObjectURL(new Blob([toCsv(s, p)], { type: "text/csv" })) : "";
  const delta = (a?: number, b?: number) => a == null || b == null ? "" : `${a - b >= 0 ? "+" : ""}${a - b}`;
  return (
    <section class="card" aria-labelledby="dash-h">
      <h2 id="dash-h">{t("sup.dashboard")}</h2>
      <div class="filters">
        <div>
          <label for="dash-days">{t("sup.period")}</label>
          <select id="dash-days" value={String(days)} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
            <option value="7">{t("sup.days7")}</option>
            <option value="30">{t("sup.days30")}</option>
          </select>
        </div>
        {s && <a class="button" href={csvHref} download={`complaint-figures-${days}d.csv`}>{t("sup.csv")}</a>}
      </div>
      {stats.error ? <ErrorBox error={stats.error} onRetry={stats.reload} /> : null}
      {!s ? (stats.loading && <Loading />) : (
        <>
          <dl class="kpis">
            <div><dt>{t("sup.received")}</dt><dd id="kpi-received">{s.received}</dd>
              <dd class="delta">{t("sup.vsprev", { d: delta(s.received, p?.received) || "–" })}</dd></div>
            <div><dt>{t("sup.accept")} ({t("sup.median")})</dt><dd>{secs(s.accept?.median_s)}</dd>
              <dd class="delta">{t("sup.compliance")} {pct(s.accept?.compliance)}</dd></div>
            <div><dt>{t("sup.firstcontact")} ({t("sup.median")})</dt><dd>{secs(s.first_contact?.median_s)}</dd>
              <dd class="delta">{t("sup.compliance")} {pct(s.first_contact?.compliance)}</dd></div>
            <div><dt>{t("sup.fcr")}</dt><dd>{pct(s.first_contact_resolution)}</dd></div>
            <div><dt>{t("sup.csat")}</dt><dd>{pct(s.csat?.satisfied_share)}</dd>
              <dd class="delta"><span id="kpi-csat-answered">{s.csat?.answered ?? 0}</span> {t("sup.answers")} · ⌀ {s.csat?.average_score ?? "–"}</dd></div>
            <div><dt>{t("sup.repeat")}</dt><dd>{pct(s.repeat_rate)}</dd></div>
            <div><dt>{t("sup.paid")}</dt><dd>{fmtFen(s.compensation_paid_fen ?? 0)}</dd></div>
            <div><dt>{t("sup.whole")} ({t("sup.median")})</dt><dd>{secs(s.whole_cycle?.median_s)}</dd></div>
          </dl>
          <div class="charts">
            <Chart id="chart-compliance" label={t("sup.sla")} option={{
              title: { text: t("sup.sla"), textStyle: { fontSize: 14 } },
              tooltip: { renderMode: "richText" },
              grid: { left: 130, right: 24, top: 40, bottom: 30 },
              xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
              yAxis: { type: "category", data: compliance.map(([k]) => k), inverse: true },
              series: [{ type: "bar", data: compliance.map(([, v]) => v == null ? null : Math.round(v * 1000) / 10),
                         itemStyle: { color: "#0b5cad" }, label: { show: true, position: "right", formatter: "{c}%" } }],
            }} />
            {causes.length === 0 ? <p class="muted">{t("sup.causes")}: {t("sup.none")}</p> :
              <Chart id="chart-causes" label={t("sup.causes")} option={{
                title: { text: t("sup.causes"), textStyle: { fontSize: 14 } },
                tooltip: { renderMode: "richText" },
                series: [{ type: "pie", radius: ["35%", "65%"], top: 30,
                           data: causes.map((c: any) => ({ name: c.party ? label("party", c.party) : String(c), value: c.count ?? 1 })) }],
              }} />}
            {agents.length > 0 && (
              <Chart id="chart-agents" label={t("sup.byagent")} option={{
                title: { text: t("sup.byagent"), textStyle: { fontSize: 14 } },
                tooltip: { renderMode: "richText", trigger: "axis" },
                legend: { bottom: 0 },
                grid: { left: 50, right: 20, top: 50, bottom: 60 },
                xAxis: { type: "category", data: agents.map((a) => a.agent) },
                yAxis: { type: "value", name: "s" },
                series: [
                  { type: "bar", name: t("sup.accept"), data: agents.map((a) => a.accept_median_s && Math.round(a.accept_median_s)) },
                  { type: "bar", name: t("sup.firstcontact"), data: agents.map((a) => a.first_contact_median_s && Math.round(a.first_contact_median_s)) },
                  { type: "bar", name: t("sup.verification"), data: agents.map((a) => a.verification_median_s && Math.round(a.verification_median_s)) },
                ],
              }} />
            )}
          </div>
        </>
      )}
    </section>
  );
}

export function Supervisor() {
  return (
    <Shell title={t("sup.title")} staff>
      <h1>{t("sup.title")}</h1>
      <Inbox />
      <Dashboard />
    </Shell>
  );
}

export { ApiError };
