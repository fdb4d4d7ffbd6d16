// The console's entry: picks the page for the current path and re-renders on a change of route,
// language or staff session.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import "./style.css";
import { session, sessionKnown } from "./auth";
import { lang, t } from "./i18n";
import { match, route } from "./router";
import { Home, Landing, Status, Survey } from "./pages/customer";
import { CasePage, Offers, Queue, SignIn, StaffGate } from "./pages/staff";
import { Supervisor } from "./pages/supervisor";
import { Admin } from "./pages/admin";
import { Audit } from "./pages/audit";
import { ChangePassword } from "./pages/account";
import { Shell } from "./ui";

// Subscribes during the first render, not in an effect: a child's effect (StaffGate redirecting
// to the sign-in page) runs before its parent's, and a change it makes must not be missed.
function useValues() {
  const [, force] = useState(0);
  const offs = useRef<(() => void)[] | null>(null);
  if (!offs.current) {
    const bump = () => force((x) => x + 1);
    offs.current = [route.subscribe(bump), lang.subscribe(bump), session.subscribe(bump),
                    sessionKnown.subscribe(bump)];
  }
  useEffect(() => () => offs.current!.forEach((off) => off()), []);
}

function Page() {
  const { path, query } = route.get();
  let m;
  if (path === "/" || path === "") return <Home />;
  if ((m = match("/c/status/:no", path))) return <Status no={m.no} token={query.get("token") || ""} />;
  if ((m = match("/c/survey/:no", path))) return <Survey no={m.no} token={query.get("token") || ""} />;
  if ((m = match("/c/:waybill", path))) return <Landing waybill={m.waybill} />;
  if (path === "/staff" || path === "/staff/" || path === "/staff/signin") return <SignIn />;
  if (path === "/staff/offers") return <StaffGate><Offers /></StaffGate>;
  if (path === "/staff/queue") return <StaffGate><Queue /></StaffGate>;
  if ((m = match("/staff/case/:no", path))) return <StaffGate><CasePage no={m.no} /></StaffGate>;
  if (path === "/staff/supervisor") return <StaffGate><Supervisor /></StaffGate>;
  if (path === "/staff/admin") return <StaffGate><Admin /></StaffGate>;
  if (path === "/staff/audit") return <StaffGate><Audit /></StaffGate>;
  if (path === "/staff/password") return <StaffGate><ChangePassword /></StaffGate>;
  return (
    <Shell title={t("notfound.title")}>
      <h1>{t("notfound.title")}</h1>
      <p>{t("notfound.body")}</p>
      <p><a href="/">{t("nav.home")}</a></p>
    </Shell>
  );
}

function App() {
  useValues();
  return <Page />;
}

const root = document.getElementById("app")!;
root.textContent = "";
render(<App />, root);
