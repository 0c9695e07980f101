// The wallboard's adherence tables (GET /api/v1/adherence, web/adherence.py), every 30 s.
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id), el = H.el;
  const pct = (v) => (v == null ? "—" : Math.round(v * 100) + " %");
  const hours = (s) => (s / 3600).toFixed(1) + " h";
  const cls = (v) => (v == null ? "" : v >= 0.9 ? "good" : v >= 0.8 ? "warn" : "bad");
  const cells = (f) => [el("td", { class: "adherence " + cls(f.adherence) }, pct(f.adherence)), el("td", { class: "conformance" }, pct(f.conformance)),
    el("td", {}, hours(f.scheduled_s)), el("td", {}, hours(f.actual_on_s))];
  async function load() {
    const r = await H.api("GET", "/api/v1/adherence");
    if (!r.ok) { $("adherence-updated").textContent = (r.data && r.data.error) || "unavailable"; return; }
    const d = r.data, scheduled = Object.entries(d.agents).filter(([login, a]) => a.total.scheduled_s > 0 || d.now[login]);
    $("adherence-empty").hidden = scheduled.length > 0;
    $("adherence-teams").querySelector("tbody").replaceChildren(...Object.entries(d.teams).filter(([, f]) => f.scheduled_s > 0)
      .map(([t, f]) => el("tr", { "data-team": t }, el("td", {}, t || "(no team)"), ...cells(f))));
    $("adherence-agents").querySelector("tbody").replaceChildren(...scheduled.map(([login, a]) =>
      el("tr", { "data-agent": login }, el("td", {}, login), el("td", {}, a.team || ""),
        el("td", { class: "now" }, { on: "on the phones", break: "break" }[d.now[login]] || "—"), ...cells(a.total))));
    $("adherence-updated").textContent = "· " + new Date().toLocaleTimeString();
  }
  load();
  setInterval(load, 30000);
})();
