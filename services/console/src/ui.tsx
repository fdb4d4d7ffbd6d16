// Small pieces every page uses: the page shell (header, language switch, staff navigation),
// a loader for async data and the error box.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";
import { session, signOut } from "./auth";
import { LANG_NAMES, label, lang, setLang, t } from "./i18n";
import { navigate } from "./router";

const hanOther = () => (lang.get() === "zh-Hant" ? "zh-CN" : "zh-Hant");

export function Shell(props: { staff?: boolean; title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · ${t("app.title")}`;
  }, [props.title, lang.get()]);
  return (
    <>
      <a class="skip" href="#main">{t("app.skip")}</a>
      <header class="top">
        <a class="brand" href={props.staff ? "/staff/offers" : "/"}>{t("app.title")}</a>
        {props.staff && session.get() && (
          <nav aria-label={t("nav.home")} class="staffnav">
            <a href="/staff/offers">{t("nav.offers")}</a>
            <a href="/staff/queue">{t("nav.queue")}</a>
            <a href="/staff/supervisor">{t("nav.supervisor")}</a>
            <a href="/staff/admin">{t("nav.admin")}</a>
            {session.get()?.method === "cookie" && <a href="/staff/password">{t("nav.password")}</a>}
            <button type="button" class="link" onClick={() => { signOut(); navigate("/staff/signin"); }}>
              {t("nav.signout")}
            </button>
          </nav>
        )}
        <button type="button" class="lang" aria-label={`${t("lang.label")}: ${t("lang.switch")}`}
                lang={lang.get() === "en" ? "zh-CN" : "en"}
                onClick={() => setLang(lang.get() === "en" ? "zh-CN" : "en")}>
          {t("lang.switch")}
        </button>
        {/* the other script of Chinese, named in itself: 繁體中文 from zh-CN and en, 简体中文 from zh-Hant */}
        <button type="button" class="lang" lang={hanOther()} onClick={() => setLang(hanOther())}>
          {LANG_NAMES[hanOther()]}
        </button>
      </header>
      <main id="main" tabIndex={-1} class={props.staff ? "wide" : "narrow"}>
        {props.children}
      </main>
    </>
  );
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "network") return t("common.network");
    return `${e.message} (${e.status})`;
  }
  return String(e);
}

export function ErrorBox(props: { error: unknown; onRetry?: () => void }) {
  return (
    <div class="error" role="alert">
      <p>{t("common.error", { msg: errorText(props.error) })}</p>
      {props.onRetry && <button type="button" onClick={props.onRetry}>{t("common.retry")}</button>}
    </div>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs load() when deps change (and on reload()); keeps the last data while reloading. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>(
    { data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, error: null, loading: false }),
      (error) => !ctl.signal.aborted && setState((s) => ({ data: s.data, error, loading: false })));
    return () => ctl.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((x) => x + 1) };
}

export function Loading() {
  return <p class="muted" role="status">{t("common.loading")}</p>;
}

/** A domain code shown to a person: its label in the page's language, the raw code only as
 *  the title (a hint for staff who search logs or talk to the operators). */
export function Code(props: { family: string; code: string | null | undefined }) {
  if (props.code == null || props.code === "") return null;
  return <span class="code" title={t("case.code_hint", { code: props.code })} data-code={props.code}>{label(props.family, props.code)}</span>;
}
