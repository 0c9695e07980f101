// Wallboard TV mode: the live snapshots (reports/web_live.py) in large type, no controls.
// Queues and agents take turns when the page's `rotate` is set (seconds).
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id), el = H.el;
  const root = $("tv"), rotate = Number(root.dataset.rotate) || 0;
  let last = null, skew = 0, turn = 0;
  const STATES = ["available", "on_call", "reserved", "wrap_up", "paused"];
  const label = (s) => s.replace("_", " ");

  function tile(title, big, sub, status, attrs = {}) {
    return el("div", { class: "tv-tile " + (status || ""), ...attrs },
      el("div", { class: "tv-tile-title" }, title), el("div", { class: "tv-big" }, big), el("div", { class: "tv-sub" }, sub));
  }

  function render(s) {
    last = s; skew = Date.now() / 1000 - s.now;
    if ($("alerts")) {
      $("alerts").replaceChildren(...(s.alerts || []).slice(0, 6).map((a) =>
        el("div", { class: "tv-alert", "data-queue": a.queue, "data-kind": a.kind, "data-agent": a.agent || "" }, a.text)));
      HotlineAlertSound.update(s.alerts || [], root.dataset.sound === "1");  // only when the URL chose ?sound=1
    }
    const t = s.totals, by = t.agents_by_state || {};
    if ($("totals")) $("totals").replaceChildren(
      tile("Waiting", String(t.waiting), "longest " + H.dur(t.longest_wait), t.waiting ? "warn" : "", { id: "tv-waiting" }),
      tile("Service level", H.pct(t.sl_30m), "last 30 min · today " + H.pct(t.sl_today), "", { id: "tv-sl" }),
      tile("Answered", String(t.answered), "of " + t.offered + " offered · " + t.abandoned + " abandoned"),
      tile("Available", String(by.available || 0), STATES.slice(1).filter((k) => by[k]).map((k) => by[k] + " " + label(k)).join(" · ")));
    const o = s.outbound || {};
    if ($("outbound")) $("outbound").replaceChildren(
      tile("Outbound", String(o.answered || 0), "answered of " + (o.offered || 0) + " dialled · AHT " + H.secs(o.aht), "", { id: "tv-outbound" }));
    if ($("teams")) $("teams").replaceChildren(...(s.teams || []).map((tm) => {
      const b = tm.by_state || {};
      return tile(tm.name, String(b.available || 0), "available · " + STATES.slice(1).filter((k) => b[k]).map((k) => b[k] + " " + label(k)).join(" · "),
        "", { "data-team": tm.name });
    }));
    if ($("queues")) $("queues").replaceChildren(...s.queues.map((q) => tile(q.label, String(q.waiting),
      "waiting · longest " + H.dur(q.longest_wait) + " · SL " + H.pct(q.sl_30m) + " / " + H.pct(q.sl_target),
      q.sl_30m_status || q.sl_today_status, { "data-queue": q.name })));
    renderAgents();
  }

  function renderAgents() {
    $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (!last || !$("agents")) return;
    const now = Date.now() / 1000 - skew;
    $("agents").replaceChildren(...last.agents.filter((a) => a.state !== "logged_out").map((a) =>
      el("div", { class: "tv-agent st-" + a.state, "data-agent": a.id },
        el("div", { class: "tv-agent-name" }, a.name),
        el("div", {}, label(a.state) + " " + H.dur(now - a.since)),
        el("div", { class: "tv-agent-call" }, a.call_id ? [a.queue, a.caller].filter(Boolean).join(" · ") : ""))));
  }

  // Saved boards (`?boards=`): each turn shows one board's tiles, in its order. One
  // board: the sections marked data-rotating take turns, the others stay.
  const BOARDS = JSON.parse($("tv-boards").textContent);
  function showBoard(b) {
    for (const sec of root.querySelectorAll("[data-tile]")) sec.hidden = !b.tiles.includes(sec.dataset.tile);
    for (const t of b.tiles) { const sec = root.querySelector(`[data-tile="${t}"]`); if (sec) root.appendChild(sec); }
    $("board-name").textContent = b.name;
    root.dataset.showing = b.name;
  }
  function rotateBoards() {
    if (BOARDS.length > 1) { showBoard(BOARDS[turn % BOARDS.length]); turn += 1; return; }
    const sections = [...root.querySelectorAll("[data-rotating]")];
    if (!rotate || sections.length < 2) return;
    sections.forEach((b, i) => { b.hidden = i !== turn % sections.length; });
    turn += 1;
  }
  if (BOARDS.length === 1) showBoard(BOARDS[0]);
  rotateBoards();
  if (rotate) setInterval(rotateBoards, rotate * 1000);
  setInterval(renderAgents, 1000);

  H.boardSocket("/wallboard/tv/ws", render,
    (up) => { $("conn").textContent = up ? "live" : "reconnecting…"; $("conn").className = "tv-conn " + (up ? "" : "down"); });
})();
