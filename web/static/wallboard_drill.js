// Wallboard drill-downs (reports/drill.py): a queue tile opens its calls waiting and its
// agents (refreshed every 2 s while open); an agent's name opens their calls today and
// the team move for the day (web/team_moves.py). Saved boards for the TV mode (reports/boards.py).
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id), el = H.el;
  let open = null, timer = null;  // {kind: "queue" | "agent", id}
  const enc = encodeURIComponent, label = (s) => s.replace("_", " ");
  const hhmm = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  function close() { open = null; clearInterval(timer); $("drill").hidden = true; }
  $("drill-close").addEventListener("click", close);

  async function showQueue(queue) {
    const r = await H.api("GET", "/api/v1/wallboard/queues/" + enc(queue));
    if (!open || open.id !== queue) return;
    if (!r.ok) { $("drill-title").textContent = (r.data && r.data.error) || "refused"; return; }
    const d = r.data;
    $("drill-title").textContent = d.label + " · " + d.waiting.length + " waiting";
    $("drill-waiting").querySelector("tbody").replaceChildren(...d.waiting.map((w) =>
      el("tr", { "data-call": w.call_id }, el("td", {}, w.caller || "unknown"), el("td", {}, w.customer || "—"), el("td", {}, H.dur(w.waited_s)))));
    $("drill-waiting-empty").hidden = d.waiting.length > 0;
    $("drill-agents").querySelector("tbody").replaceChildren(...d.agents.map((a) =>
      el("tr", { "data-agent": a.id },
        el("td", {}, el("button", { type: "button", class: "name", "data-drill-agent": a.id }, a.name)), el("td", {}, a.team),
        el("td", {}, el("span", { class: "badge st-" + a.state }, label(a.state))), el("td", {}, H.dur(a.in_state_s)),
        el("td", {}, a.call_id ? [a.queue, a.caller].filter(Boolean).join(" · ") : ""),
        el("td", {}, a.state === "on_call" ? HotlineMonitor.buttons(a.id) : ""))));
  }

  async function teams() {
    const r = await H.api("GET", "/api/v1/teams");
    return r.ok ? r.data.teams.map((t) => t.name) : [];
  }

  async function showAgent(agent) {
    const [r, names] = await Promise.all([H.api("GET", "/api/v1/agents/" + enc(agent) + "/calls"), teams()]);
    if (!open || open.id !== agent) return;
    if (!r.ok) { $("drill-title").textContent = (r.data && r.data.error) || "refused"; return; }
    const d = r.data;
    $("drill-title").textContent = d.name + " · calls today";
    $("drill-team").textContent = d.team || "—";
    $("drill-home").textContent = d.team !== d.home_team ? "(moved for today; own team " + d.home_team + ")" : "";
    $("team-move-to").replaceChildren(...names.filter((t) => t !== d.team).map((t) => el("option", { value: t }, t)));
    $("team-move-go").disabled = $("team-move-to").options.length === 0;
    $("team-move-back").hidden = d.team === d.home_team;
    $("drill-calls").querySelector("tbody").replaceChildren(...d.calls.map((c) => el("tr", { "data-call": c.call_id },
      el("td", {}, hhmm(c.started_at)), el("td", {}, c.queue || c.direction),
      el("td", {}, c.customer || c.caller || "—"), el("td", {}, c.duration_s == null ? "…" : H.dur(c.duration_s)),
      el("td", {}, c.outcome), el("td", {}, c.disposition || "—"),
      el("td", {}, c.recording ? el("a", { href: c.recording, class: "recording" }, "play") : "—"))));
    $("drill-calls-empty").hidden = d.calls.length > 0;
  }

  function show(kind, id) {
    open = { kind, id };
    clearInterval(timer);
    $("drill").hidden = false;
    $("drill-queue").hidden = kind !== "queue";
    $("drill-agent").hidden = kind !== "agent";
    $("team-move-status").textContent = "";
    const load = () => (kind === "queue" ? showQueue(id) : showAgent(id));
    load();
    if (kind === "queue") timer = setInterval(load, 2000);
    $("drill").scrollIntoView({ block: "nearest" });
  }

  $("queues").addEventListener("click", (e) => { const t = e.target.closest("[data-queue]"); if (t) show("queue", t.dataset.queue); });
  for (const root of [$("agents"), $("drill-agents")]) root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-drill-agent]");
    if (b) show("agent", b.dataset.drillAgent);
  });
  HotlineMonitor.wire($("drill-agents"), (text, ok) => { $("monitor-status").textContent = text; $("monitor-status").className = ok ? "muted" : "error"; });

  async function move(body) {
    const agent = open.id, url = "/api/v1/agents/" + enc(agent) + "/team-move";
    const r = body ? await H.api("PUT", url, body) : await H.api("DELETE", url);
    $("team-move-status").textContent = r.ok ? (body ? "moved to " + r.data.team + " until midnight" : "back in " + r.data.team)
      : (r.data && r.data.error) || "refused (" + r.status + ")";
    $("team-move-status").className = r.ok ? "muted" : "error";
    if (r.ok) showAgent(agent);
  }
  $("team-move-go").addEventListener("click", () => move({ team: $("team-move-to").value }));
  $("team-move-back").addEventListener("click", () => move(null));

  // saved boards
  let TILES = [];
  function renderBoards(boards) {
    $("boards").replaceChildren(...boards.map((b) => el("li", { "data-board": b.name },
      el("b", {}, b.name), " · " + b.tiles.join(", ") + " · ",
      el("a", { href: "/wallboard/tv?board=" + enc(b.name) }, "open in TV mode"), " ",
      el("button", { type: "button", "data-remove-board": b.name }, "remove"))));
    if (boards.length > 1) $("boards").append(el("li", {}, el("a", { href: "/wallboard/tv?boards=*&rotate=20", id: "boards-rotate" }, "all boards taking turns on a TV (20 s each)")));
  }
  async function loadBoards() {
    const r = await H.api("GET", "/api/v1/wallboard/boards");
    if (!r.ok) return;
    TILES = r.data.tiles;
    if (!$("board-tiles").children.length) $("board-tiles").replaceChildren(...TILES.map((t) =>
      el("label", {}, el("input", { type: "checkbox", value: t, "data-tile": t }), " " + t)));
    renderBoards(r.data.boards);
  }
  $("board-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const tiles = [...$("board-tiles").querySelectorAll("input:checked")].map((i) => i.value);
    const r = await H.api("PUT", "/api/v1/wallboard/boards/" + enc($("board-name").value.trim()), { tiles });
    $("board-status").textContent = r.ok ? "saved " + r.data.name : (r.data && r.data.error) || "refused";
    $("board-status").className = r.ok ? "muted" : "error";
    if (r.ok) renderBoards(r.data.boards);
  });
  $("boards").addEventListener("click", async (e) => {
    const b = e.target.closest("[data-remove-board]");
    if (!b) return;
    const r = await H.api("DELETE", "/api/v1/wallboard/boards/" + enc(b.dataset.removeBoard));
    if (r.ok) renderBoards(r.data.boards);
  });
  loadBoards();
})();
