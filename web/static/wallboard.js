// Wallboard: renders the server's coalesced snapshots (at most 2/s); time in state ticks locally.
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id), el = H.el;
  let last = null, skew = 0;
  const STATES = ["available", "reserved", "on_call", "wrap_up", "paused", "other"];
  const ALERTS_SHOWN = 12, SOUND = "hotline.wallboard.sound";  // (the sound: per browser, off by default)
  $("alert-sound").checked = localStorage.getItem(SOUND) === "1";
  $("alert-sound").addEventListener("change", (ev) => {
    localStorage.setItem(SOUND, ev.target.checked ? "1" : "0");
    if (ev.target.checked) HotlineAlertSound.tone();  // a click lets the page play sound (and says what it is)
  });

  function metric(name, value, cls) { return [el("span", {}, name), el("span", { class: cls || "" }, value)]; }

  function tile(title, big, bigLabel, rows, status, attrs = {}) {
    return el("div", { class: "tile " + (status || ""), ...attrs }, el("h3", {}, title),
      el("div", { class: "big" }, big), el("div", { class: "muted" }, bigLabel), el("div", { class: "metrics" }, ...rows.flat()));
  }

  function render(s) {
    last = s; skew = Date.now() / 1000 - s.now;
    const alerts = s.alerts || [], shown = alerts.slice(0, ALERTS_SHOWN);
    $("alerts").replaceChildren(...shown.map((a) => el("div", { class: "alert error", "data-queue": a.queue, "data-kind": a.kind,
      "data-rule": a.rule || "", "data-team": a.team || "", "data-agent": a.agent || "" }, a.text)),
      ...(alerts.length > shown.length ? [el("div", { class: "alert error more" }, "and " + (alerts.length - shown.length) + " more alerts")] : []));
    HotlineAlertSound.update(alerts, $("alert-sound").checked);
    const t = s.totals, byState = t.agents_by_state || {};
    $("totals").replaceChildren(
      tile("Calls waiting", String(t.waiting), "longest " + H.dur(t.longest_wait), [
        metric("offered", t.offered), metric("answered", t.answered), metric("abandoned", t.abandoned)], "", { id: "total-waiting" }),
      tile("Service level today", H.pct(t.sl_today), "last 30 min " + H.pct(t.sl_30m), [
        metric("abandon", H.pct(t.abandon_rate)), metric("ASA", H.secs(t.asa)), metric("AHT", H.secs(t.aht))]),
      tile("Agents", String(Object.values(byState).reduce((a, b) => a + b, 0)), "logged in",
        STATES.filter((k) => byState[k]).map((k) => metric(k.replace("_", " "), byState[k]))),
      // campaign calls apart: they count in no inbound number above
      tile("Outbound (campaigns)", String((s.outbound || {}).answered || 0), "answered of " + ((s.outbound || {}).offered || 0) + " dialled", [
        metric("abandoned", (s.outbound || {}).abandoned || 0), metric("AHT", H.secs((s.outbound || {}).aht))], "", { id: "total-outbound" }));
    $("queues").replaceChildren(...s.queues.map((q) => tile(q.label, String(q.waiting), "waiting · longest " + H.dur(q.longest_wait), [
      metric("SL today", H.pct(q.sl_today), q.sl_today_status), metric("SL 30 min", H.pct(q.sl_30m), q.sl_30m_status),
      metric("target", H.pct(q.sl_target)), metric("abandon", H.pct(q.abandon_rate), q.abandon_status),
      metric("ASA", H.secs(q.asa), q.asa_status), metric("AHT", H.secs(q.aht), q.aht_status),
      metric("offered", q.offered), metric("answered", q.answered),
      ...STATES.filter((k) => (q.agents_by_state || {})[k]).map((k) => metric(k.replace("_", " "), q.agents_by_state[k]))],
      q.sl_30m_status || q.sl_today_status,
      { "data-queue": q.name, id: "queue-" + q.name, title: "click: the calls waiting and the agents" })));
    $("teams").replaceChildren(...s.teams.map((tm) => tile(tm.name, String(Object.values(tm.by_state || {}).reduce((a, b) => a + b, 0)), "agents logged in", [
      ...STATES.filter((k) => (tm.by_state || {})[k]).map((k) => metric(k.replace("_", " "), tm.by_state[k])),
      metric("SL today", H.pct(tm.sl_today)), metric("SL 30 min", H.pct(tm.sl_30m)),
      metric("AHT", H.secs(tm.aht)), metric("occupancy", H.pct(tm.occupancy))], "", { "data-team": tm.name })));
    const campaigns = s.campaigns || [];
    $("campaigns-title").hidden = campaigns.length === 0;
    $("campaigns").replaceChildren(...campaigns.map((c) => tile(c.name, c.dial_level.toFixed(2), "dial level · " + c.mode, [
      metric("drop rate " + c.drop_window_h + " h", (c.drop_rate * 100).toFixed(1) + "%", c.drop_rate > c.drop_cap ? "bad" : ""),
      metric("cap", (c.drop_cap * 100).toFixed(1) + "%"), metric("answered", c.answered), metric("connected", c.connected),
      metric("dropped", c.dropped), metric("dialing", c.dialing), metric("agents", c.agents_ready),
      metric("leads left", c.leads_left)],
      c.drop_rate > c.drop_cap ? "bad" : (c.drop_rate > 0.8 * c.drop_cap ? "warn" : "ok"), { "data-campaign": c.id })));
    renderAgents();
  }

  function renderAgents() {
    if (!last) return;
    const now = Date.now() / 1000 - skew;
    $("agents").replaceChildren(...last.agents.map((a) => el("div", { class: "agent-cell", "data-agent": a.id },
      el("button", { type: "button", class: "name", "data-drill-agent": a.id, title: "their calls today, their team" }, a.name),
      el("span", { class: "badge st-" + a.state }, a.state.replace("_", " ")),
      " ", el("span", { class: "muted" }, H.dur(now - a.since)),
      el("div", { class: "muted call" }, a.call_id ? [a.queue, a.caller].filter(Boolean).join(" · ") || "on a call" : a.team),
      a.state === "on_call" ? HotlineMonitor.buttons(a.id) : "")));
  }
  HotlineMonitor.wire($("agents"), (text, ok) => { $("monitor-status").textContent = text; $("monitor-status").className = ok ? "muted" : "error"; });
  setInterval(renderAgents, 1000);

  H.boardSocket("/wallboard/ws", render,
    (up) => { $("conn").textContent = up ? "live" : "reconnecting…"; $("conn").className = "conn " + (up ? "muted" : "down"); });
})();
