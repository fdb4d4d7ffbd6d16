// The supervisor's page: the approval inbox and the dashboard of /v1/stats. ECharts is loaded on
// demand (a chunk of its own), so the customer pages never download it.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "../api";
import { fmtFen, fmtTime, t } from "../i18n";
import { ErrorBox, Loading, Shell, useLoad } from "../ui";

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
              <p><a href={`/staff/case/${encodeURIComponent(p.no)}`}>{p.no}</a> · {fmtFen(p.proposal.total_fen)}
                {" "}· {p.proposal.rule} · {p.proposal.proposed_by || ""} · {fmtTime(p.proposal.created_at)}</p>
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

function Chart(props: { option: any; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let chart: any, gone = false;
    const resize = () => chart && chart.resize();
    import("../charts").then(({ echarts }) => {
      if (gone || !el.current) return;
      chart = echarts.init(el.current, undefined, { renderer: "svg" });
      chart.setOption(props.option);
      window.addEventListener("resize", resize);
    });
    return () => { gone = true; window.removeEventListener("resize", resize); chart && chart.dispose(); };
  }, [JSON.stringify(props.option)]);
  return <div class="chart" ref={el} role="img" aria-label={props.label} />;
}

function toCsv(stats: any): string {
  const rows: [string, string | number][] = [["received", stats.received ?? ""]];
  for (const [k, v] of Object.entries(stats.sla_compliance || {})) rows.push([`sla_compliance.${k}`, v as number]);
  rows.push(["repeat_rate", stats.repeat_rate ?? ""], ["first_contact_resolution", stats.first_contact_resolution ?? ""]);
  if (stats.csat) for (const [k, v] of Object.entries(stats.csat)) rows.push([`csat.${k}`, v as number]);
  return "figure,value\n" + rows.map(([k, v]) => `${k},${v}`).join("\n") + "\n";
}

function Dashboard() {
  const [days, setDays] = useState(30);
  const stats = useLoad<any>((signal) => {
    const to = new Date(Date.now() + 60_000), from = new Date(to.getTime() - days * 86400_000);
    return staffCall(`/v1/stats?from=${encodeURIComponent(from.toISOString().replace(/\.\d+Z$/, "Z"))}&to=${encodeURIComponent(to.toISOString().replace(/\.\d+Z$/, "Z"))}`, { signal });
  }, [days]);
  const s = stats.data;
  const sla = s?.sla_compliance || {};
  const causes: any[] = s?.top_causes || [];
  const csvHref = s ? URL.createObjectURL(new Blob([toCsv(s)], { type: "text/csv" })) : "";
  return (
    <section class="card" aria-labelledby="dash-h">
      <h2 id="dash-h">{t("sup.dashboard")}</h2>
      <div class="filters">
        <label for="dash-days">{t("sup.period")}</label>
        <select id="dash-days" value={String(days)} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
          <option value="7">{t("sup.days7")}</option>
          <option value="30">{t("sup.days30")}</option>
        </select>
        {s && <a class="button" href={csvHref} download={`stats-${days}d.csv`}>{t("sup.csv")}</a>}
      </div>
      {stats.error ? <ErrorBox error={stats.error} onRetry={stats.reload} /> : null}
      {!s ? (stats.loading && <Loading />) : (
        <>
          <dl class="kpis">
            <div><dt>{t("sup.received")}</dt><dd id="kpi-received">{s.received}</dd></div>
            <div><dt>{t("sup.csat")}</dt><dd>{pct(s.csat?.satisfied_share ?? s.csat?.share_4_5)}</dd></div>
            <div><dt>{t("sup.fcr")}</dt><dd>{pct(s.first_contact_resolution)}</dd></div>
            <div><dt>{t("sup.repeat")}</dt><dd>{pct(s.repeat_rate)}</dd></div>
            <div><dt>{t("sup.firstresp")} ({t("sup.median")})</dt><dd>{s.first_response?.median_s ?? "–"} s</dd></div>
          </dl>
          <div class="charts">
            <Chart label={t("sup.sla")} option={{
              title: { text: t("sup.sla"), textStyle: { fontSize: 14 } },
              tooltip: { renderMode: "richText" },
              grid: { left: 110, right: 20, top: 40, bottom: 30 },
              xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
              yAxis: { type: "category", data: Object.keys(sla) },
              series: [{ type: "bar", data: Object.values(sla).map((v: any) => Math.round(v * 1000) / 10),
                         itemStyle: { color: "#0b5cad" } }],
            }} />
            <Chart label={t("sup.causes")} option={{
              title: { text: t("sup.causes"), textStyle: { fontSize: 14 } },
              tooltip: { renderMode: "richText" },
              series: [{ type: "pie", radius: ["35%", "65%"], top: 30,
                         data: causes.map((c: any) => ({ name: c.party ?? c.cause ?? String(c), value: c.count ?? 1 })) }],
            }} />
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
