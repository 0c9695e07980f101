// Agent desktop: one websocket for screen-pops and the agent's own events; commands over HTTP.
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id);
  const root = $("desktop"), agent = root.dataset.agent;
  // The command contract (agents/commands.py) as the page embeds it: for each action its
  // label, fields, the call kinds and phase it applies to, and whether it works on a
  // standing line. Which buttons show, and what a click sends, come from it.
  const COMMANDS = JSON.parse($("commands").textContent);
  // Watched by a supervisor or an admin (`?agent=`): read-only, no buttons and no forms
  // (monitoring has its own buttons, monitor.js).
  const READONLY = root.dataset.readonly === "1";
  if (READONLY) for (const id of ["state-controls", "wrapup-card", "manual-dial"]) $(id).hidden = true;
  const CALL_ACTIONS = Object.keys(COMMANDS).filter((a) => COMMANDS[a].call_kinds.length > 0);
  // What a successful command does to the call's phase ("" = the call is gone).
  const AFTER = { preview_dial: "dialling", preview_skip: "", attended_transfer: "consulting",
                  complete_transfer: "ended", cancel_transfer: "connected" };
  // call.phase: offered (ringing / preview) | dialling | connected | consulting | ended | saved
  let call = null, customer = null, stateSince = null, line = null;
  let wrapUntil = null;  // when the call server ends this wrap-up (browser clock), or null

  function callKind(p) {
    const a = p.attributes || {};
    if (a.preview) return "preview";
    if (a.callback) return "callback";
    return (p.direction || a.direction) === "outbound" ? "outbound" : "inbound";
  }
  function applies(action) {
    if (READONLY) return false;
    const c = COMMANDS[action];
    return !!(call && c && c.call_kinds.includes(call.kind) && c.call_phase === call.phase
              && (c.on_line || line !== "up")
              && (!c.target_kinds.length || c.target_kinds.includes($("transfer-kind").value)));
  }
  // Shows a call control only when it applies to this call, now; a group with nothing
  // to show goes, and so do the transfer fields when no transfer can start.
  function refreshControls() {
    for (const b of $("call").querySelectorAll("button[data-action]")) b.hidden = !applies(b.dataset.action);
    for (const g of $("call").querySelectorAll(".call-controls")) g.hidden = !g.querySelector("button[data-action]:not([hidden])");
    const transfer = CALL_ACTIONS.some((a) => COMMANDS[a].fields.includes("target") && applies(a));
    for (const f of document.querySelectorAll(".transfer-field")) f.hidden = !transfer;
    $("btn-wrapup").disabled = !applies("wrap_up_done");
  }
  $("transfer-kind").addEventListener("change", refreshControls);  // e.g. no Attended to a queue
  function setPhase(phase) { if (call) { call.phase = phase; refreshControls(); } }

  // The agent-state buttons (available, pause, log out) are enabled only in the states
  // the contract names for them (agent_states): no "Pause" while a call rings or talks.
  let agentState = null;
  function refreshStateButtons() {
    for (const b of document.querySelectorAll("#state-controls button[data-action], #find-customer button[data-action]")) {
      const states = (COMMANDS[b.dataset.action] || {}).agent_states || [];
      b.disabled = agentState != null && states.length > 0 && !states.includes(agentState);
    }
  }
  function setState(state, since, reason) {
    agentState = state || "logged_out";
    refreshStateButtons();
    if (state !== "wrap_up") setWrapUp(null);
    // the wrap-up is over (saved, timed out, the agent went available or was offered the
    // next call): its form goes with it, and never saves onto whatever comes next
    if (call && (call.phase === "ended" || call.phase === "saved") && !["wrap_up", "on_call"].includes(state)) clearCall();
    const s = $("state");
    s.className = "badge st-" + (state || "logged_out");
    s.textContent = (state || "logged out").replace("_", " ") + (reason ? " · " + reason : "");
    stateSince = since || null;
  }
  const LINE_TEXT = { up: "line connected", dialling: "calling your phone…", down: "line down: calls ring your phone" };
  function setLine(state) {
    const l = $("line");
    l.hidden = !state;
    line = state || null;
    refreshControls();
    if (!state) return;
    l.className = "badge line-" + state;
    l.textContent = LINE_TEXT[state] || state;
  }
  // The wrap-up's countdown: the call server (the router's wrap-up time for the queue
  // and agent) says how long is left; shown until the agent's state leaves wrap-up.
  function setWrapUp(left) {
    wrapUntil = left == null ? null : Date.now() / 1000 + left;
    tick();
  }
  function tick() {
    $("state-since").textContent = stateSince ? H.dur(Date.now() / 1000 - stateSince) : "";
    const w = $("wrapup-left");
    w.hidden = wrapUntil == null;
    if (wrapUntil != null) w.textContent = "ends in " + H.dur(wrapUntil - Date.now() / 1000);
  }
  setInterval(tick, 1000);

  function showCustomer(c, isNew) {
    customer = c;
    $("customer").hidden = !c; $("customer-empty").hidden = !!c || isNew; $("new-customer").hidden = !isNew || READONLY;
    if (!c) return;
    $("customer-name").textContent = c.name || "";
    $("customer-company").textContent = c.company || "—";
    $("customer-tier").textContent = c.tier || "";
    $("customer-account").textContent = c.account_number || "—";
    $("customer-phones").textContent = (c.phones || []).join(", ");
    $("customer-email").textContent = c.email || "—";
    $("customer-notes").textContent = c.notes || "";
    $("customer-source").textContent = c.source === "crm" ? "external CRM" : "Hotline records";
  }

  function showHistory(rows) {
    const tb = $("history").querySelector("tbody");
    tb.replaceChildren(...(rows || []).map((r) => H.el("tr", {},
      H.el("td", {}, H.when(r.started_at)), H.el("td", {}, r.queue), H.el("td", {}, r.agent_id),
      H.el("td", {}, r.outcome), H.el("td", { class: "disposition" }, r.disposition), H.el("td", {}, r.notes))));
  }

  function showPop(p) {
    // What was said about the last call is old news; a manual dial's answer is about
    // this call (its pop may come before or after the answer).
    if (!(replyAbout === "manual_dial" && String(p.call_id).startsWith("manual-"))) reply(true, "");
    const kind = callKind(p);
    if (kind !== "preview") ring(p);
    call = { id: p.call_id, caller: p.caller, kind, preview: kind === "preview", connected: false, phase: "offered" };
    $("no-call").hidden = true; $("call").hidden = false;
    $("call-card").classList.remove("ringing"); void $("call-card").offsetWidth; $("call-card").classList.add("ringing");
    $("call-caller").textContent = (p.caller_name ? p.caller_name + " " : "") + (p.caller || "unknown");
    $("call-queue").textContent = p.queue || "";
    $("call-wait").textContent = p.wait_s == null ? "—" : H.dur(p.wait_s);
    $("call-ivr").textContent = (p.ivr_path || []).join(" › ") || "—";
    $("call-reason").textContent = p.reason || "";
    const preview = call.preview;
    $("call-status").textContent = preview ? "preview — not dialled yet" : "ringing";
    showCustomer(p.customer, p.new_customer);
    if (p.new_customer) { $("nc-phone").value = p.caller || ""; }
    showHistory(p.history);
    // a new call starts a new wrap-up: the last call's disposition is never saved to it
    resetWrapUp();
    $("wrapup-call").hidden = false;
    $("wrapup-call").textContent = "For the call from " + (p.caller || "unknown") + (p.queue ? " (" + p.queue + ")" : "");
    refreshControls();
    const before = early.get(p.call_id) || [];
    early.delete(p.call_id);
    before.forEach(onEvent);
  }

  // A call's events that came before its screen-pop (on a standing line the caller is
  // connected at once, while the pop is still looking the customer up): applied to it then.
  const early = new Map();
  function keepEarly(e) {
    if (!e.call_id || (call && call.id === e.call_id)) return;
    if (!early.has(e.call_id)) early.set(e.call_id, []);
    early.get(e.call_id).push(e);
    while (early.size > 20) early.delete(early.keys().next().value);
  }

  function resetWrapUp() {
    $("wrapup").reset(); $("wrapup-result").textContent = ""; $("wrapup-result").className = "";
  }

  function clearCall() {
    call = null; $("call").hidden = true; $("no-call").hidden = false;
    showCustomer(null, false); $("customer-empty").hidden = false; showHistory([]);
    $("wrapup").reset(); $("wrapup-call").hidden = true; setWrapUp(null); refreshControls();
  }

  function onEvent(e) {
    if (e.kind.startsWith("Call") && e.kind !== "CallOffered") keepEarly(e);
    if (["CallEnded", "WrapUpEnded", "AgentStateChanged", "CallQueued"].includes(e.kind)) setTimeout(refreshDay, 500);
    switch (e.kind) {
      case "AgentStateChanged": setState(e.state, e.at, e.reason); break;
      case "AgentLoggedIn": setState("available", e.at); break;
      case "AgentLoggedOut": setState("logged_out", e.at); break;
      case "AgentLineChanged": setLine(e.state); break;
      case "CallConnected": if (call && e.call_id === call.id) { call.connected = true; $("call-status").textContent = "talking"; setPhase("connected"); } setState("on_call", e.at); break;
      case "CallHeld": if (call && e.call_id === call.id) $("call-status").textContent = "on hold"; break;
      case "CallResumed": if (call && e.call_id === call.id) $("call-status").textContent = "talking"; break;
      case "CallTransferred": if (call && e.call_id === call.id) {
          const done = !e.result || e.result === "Success";
          $("call-status").textContent = done ? "transferred (" + e.mode + ") to " + e.target + " — wrap-up" : "transfer failed: " + e.result;
          setPhase(done ? "ended" : "connected");
        } break;
      case "CallNotAnswered": if (call && e.call_id === call.id) { clearCall(); reply(false, "Call not answered in time"); } break;
      case "CallAbandoned": if (call && e.call_id === call.id) { $("call-status").textContent = "caller hung up"; setPhase("ended"); } break;
      case "CallEnded": if (call && e.call_id === call.id && call.preview && !call.connected) {
          // skipped: as asked; dialled and not connected (busy, no answer): a failure
          const skipped = !!call.skipping;
          clearCall(); reply(skipped, skipped ? (e.cause_text || "preview skipped") : "preview not connected: " + (e.cause_text || "the call ended"));
          break;
        }
        if (call && e.call_id === call.id) { $("call-status").textContent = "ended — wrap-up"; setPhase("ended"); } break;
      case "WrapUpEnded": if (call && e.call_id === call.id) { setState("available", e.at); } break;
      case "MonitorStarted": monitoredBy.set(e.supervisor, e.mode); showMonitored(); break;
      case "MonitorEnded": monitoredBy.delete(e.supervisor); showMonitored(); break;
      case "AgentForced": {
        const f = $("forced");
        f.textContent = (e.action === "pause" ? "Paused by " : "Logged out by ") + e.supervisor + (e.reason ? " · " + e.reason : "")
          + " at " + new Date(e.at * 1000).toLocaleTimeString();
        f.hidden = false;
        break;
      }
    }
  }

  // Monitoring the server tells this agent of (which modes is configured: [monitor]
  // tell_agent); the banner shows while it lasts. supervisor -> mode.
  const monitoredBy = new Map();
  const MONITOR_TEXT = { listen: "is listening to your call", whisper: "is coaching you (only you hear them)", barge: "has joined your call" };
  function showMonitored() {
    const m = $("monitored");
    m.hidden = monitoredBy.size === 0;
    m.textContent = [...monitoredBy].map(([who, mode]) => "Supervisor " + who + " " + (MONITOR_TEXT[mode] || mode)).join("; ");
  }

  // The page's first word from the server (and each reconnect's): the live loop's view of
  // the agent (state, the call, the wrap-up's end) with the screen-pop of that call.
  function showView(m) {
    const v = m.state, st = v ? v.state : "logged_out";
    const pop = m.screen_pop;
    // a reconnect that finds the call shown here keeps it as it is (and what the agent typed)
    if (pop && !(call && call.id === pop.call_id)) showPop(pop);
    else if (!pop && call && !(v && v.call_id === call.id)) clearCall();  // the call shown here is over
    if (v) setState(v.state, v.since, v.reason); else setState("logged_out");
    setLine(v && v.line);
    if (call && st === "on_call" && (call.phase === "offered" || call.phase === "dialling")) {
      call.connected = true; $("call-status").textContent = "talking"; setPhase("connected");
    } else if (call && st === "wrap_up" && call.phase !== "ended" && call.phase !== "saved") {
      $("call-status").textContent = "ended — wrap-up"; setPhase("ended");
    }
    if (st === "wrap_up") setWrapUp(m.wrap_up_left_s);  // (else setState has ended it)
    monitoredBy.clear();
    for (const x of m.monitored || []) monitoredBy.set(x.supervisor, x.mode);
    showMonitored();
  }

  // The ring alert (off unless the agent ticks it; kept in this browser): a short tone,
  // and a browser notification when the tab is hidden. `data-rang` counts the alerts.
  const ringBox = $("ring-alert");
  ringBox.checked = localStorage.getItem("hotline.ring") === "1";
  ringBox.addEventListener("change", () => {
    localStorage.setItem("hotline.ring", ringBox.checked ? "1" : "0");
    if (ringBox.checked && window.Notification && Notification.permission === "default") Notification.requestPermission();
  });
  function ring(p) {
    if (!ringBox.checked) return;
    root.dataset.rang = String(Number(root.dataset.rang || 0) + 1);
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)(), o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; g.gain.value = 0.1; o.connect(g); g.connect(ctx.destination);
      o.start(); o.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no audio: the notification and the page still show it */ }
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      new Notification("Call from " + (p.caller_name || p.caller || "unknown"), { body: p.queue || "", tag: "hotline-ring" });
    }
  }

  // My day: the agent's queues now, today's numbers, open call-backs and calls (the
  // /today API), every 20 s and after each call or state change.
  let dayTimer = null;
  async function refreshDay() {
    clearTimeout(dayTimer);
    dayTimer = setTimeout(refreshDay, 20000);
    const r = await H.api("GET", "/api/v1/agents/" + encodeURIComponent(agent) + "/today");
    if (!r.ok) return;
    const d = r.data, me = d.me;
    $("my-handled").textContent = String(me.handled ?? 0);
    $("my-aht").textContent = H.secs(me.aht);
    $("my-paused").textContent = H.dur(me.paused_s || 0);
    $("my-logged-in").textContent = H.dur(me.logged_in_s || 0);
    $("queue-stats").querySelector("tbody").replaceChildren(...d.queues.map((q) => H.el("tr", { "data-queue": q.name },
      H.el("td", {}, q.name), H.el("td", { class: "waiting" }, String(q.waiting)), H.el("td", {}, H.dur(q.longest_wait)))));
    $("my-callbacks").replaceChildren(...(d.callbacks.length ? d.callbacks.map((c) => H.el("li", {}, H.when(c.due_at) + " · " + c.number + " · " + c.state))
      : [H.el("li", { class: "muted" }, "none open")]));
    $("my-calls").querySelector("tbody").replaceChildren(...d.calls.map((c) => H.el("tr", { "data-call": c.id },
      H.el("td", {}, H.when(c.started_at)), H.el("td", {}, c.queue), H.el("td", {}, c.caller), H.el("td", {}, c.disposition))));
    $("my-day-updated").textContent = "· " + new Date().toLocaleTimeString();
  }
  refreshDay();

  // (the written tasks' tabs, agent_tasks.js, hear the same socket: "task" pushes, and
  // each hello, that is every (re)connect, for what a dropped socket missed)
  const tell = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));
  H.socket("/agent/ws?agent=" + encodeURIComponent(agent), (m) => {
    if (m.type === "hello") { showView(m); tell("hotline:desktop-hello", m); }
    else if (m.type === "task") tell("hotline:task", m);
    else if (m.type === "screen_pop") showPop(m);
    else if (m.type === "event") {
      onEvent(m.event);
      if (m.view && m.view.state && m.view.state.state === "wrap_up") setWrapUp(m.view.wrap_up_left_s);
    }
  }, (up) => { $("conn").textContent = up ? "live" : "reconnecting…"; $("conn").className = "conn " + (up ? "muted" : "down"); });

  // The status line: a notice fades after 10 s, an error after 30 s (or at the next call).
  let replyTimer = null;
  let replyAbout = "";  // the command the status line speaks of ("": anything else)
  function reply(ok, text, about = "") {
    replyAbout = about;
    const r = $("reply"); r.textContent = text; r.className = text ? (ok ? "notice" : "error") : "muted";
    clearTimeout(replyTimer);
    if (text) replyTimer = setTimeout(() => { r.textContent = ""; r.className = "muted"; }, ok ? 10000 : 30000);
  }

  async function send(action, extra = {}) {
    reply(true, action.replace("_", " ") + "…", action);
    const res = await H.api("POST", "/api/v1/agents/" + encodeURIComponent(agent) + "/commands", { action, ...extra });
    if (res.status === 202) {  // kept: applied when the call server is back (not done yet: the call stays as it is)
      reply(false, action.replace("_", " ") + ": not applied yet. " + ((res.data && res.data.message) || ""), action);
      return { ...res, ok: false };
    }
    if (res.ok) reply(true, action.replace("_", " ") + ": done", action);
    else reply(false, action.replace("_", " ") + " failed: " + ((res.data && res.data.error) || res.status), action);
    return res;
  }

  // Customer search (GET /api/v1/customers?q=): its own table, never the call's customer card
  // (the wrap-up is saved against the call's customer, not one looked up meanwhile).
  let searchText = "", searchNext = null;
  async function searchCustomers(offset) {
    const st = $("search-status"), table = $("search-results"), tb = table.querySelector("tbody");
    if (!searchText) { st.textContent = "Type a name, 4 or more digits of a number, or an account number."; st.className = "error"; return; }
    st.textContent = "Searching…"; st.className = "muted";
    const res = await H.api("GET", "/api/v1/customers?limit=20&offset=" + offset + "&q=" + encodeURIComponent(searchText));
    if (!res.ok) { st.textContent = (res.data && res.data.error) || "Search failed (" + res.status + ")"; st.className = "error"; return; }
    const rows = res.data.customers.map((c) => H.el("tr", { "data-customer": c.id },
      H.el("td", {}, c.name || ""), H.el("td", {}, c.company || ""), H.el("td", {}, c.account_number || ""),
      H.el("td", {}, (c.phones || []).join(", ")), H.el("td", {}, c.email || ""), H.el("td", {}, c.tier || ""),
      H.el("td", {}, ...(READONLY ? [] : (c.phones || []).slice(0, 3).map((p) => {
        const b = H.el("button", { type: "button", class: "dial", "data-action": "manual_dial", title: "Call " + p }, "Call " + p);
        b.addEventListener("click", () => manualDial(p, c.id));
        return b;
      })))));
    if (offset === 0) tb.replaceChildren(...rows); else tb.append(...rows);
    searchNext = res.data.next_offset;
    table.hidden = tb.children.length === 0;
    refreshStateButtons();
    $("search-more").hidden = searchNext == null;
    st.textContent = tb.children.length ? tb.children.length + " found" + (searchNext == null ? "" : " (more below)") : "No customer matches “" + searchText + "”.";
    st.className = "muted";
  }
  // Manual dial (the manual_dial command): the live loop checks do-not-call and the
  // calling window and says why it refuses; dialled, the call pops like any other.
  async function manualDial(number, customerId) {
    if (!number) { reply(false, "manual dial: type the number to call"); return; }
    const extra = { number };
    if (customerId) extra.customer_id = customerId;
    await send("manual_dial", extra);
  }
  $("manual-dial").addEventListener("submit", (ev) => { ev.preventDefault(); manualDial($("dial-number").value.trim(), ""); });
  $("customer-search").addEventListener("submit", (ev) => { ev.preventDefault(); searchText = $("search-q").value.trim(); searchCustomers(0); });
  $("search-more").addEventListener("click", () => { if (searchNext != null) searchCustomers(searchNext); });

  // The wrap-up form's submit button (wrap_up_done) saves through the form below.
  document.querySelectorAll("button[data-action]:not([type=submit])").forEach((b) => b.addEventListener("click", () => {
    const action = b.dataset.action, fields = COMMANDS[action].fields, extra = {};
    if (fields.includes("reason")) extra.reason = $("pause-reason").value;
    if (fields.includes("call_id")) {
      if (!call) { reply(false, "No call"); return; }
      extra.call_id = call.id;
    }
    if (fields.includes("target")) { extra.target = $("transfer-target").value; extra.target_kind = $("transfer-kind").value; }
    const forCall = call;
    if (action === "preview_skip" && call) call.skipping = true;
    send(action, extra).then((res) => {
      if (!res.ok || !(action in AFTER) || call !== forCall) return;
      if (AFTER[action] === "") { clearCall(); return; }
      setPhase(AFTER[action]);
      if (action === "preview_dial") $("call-status").textContent = "dialling…";
      if (action === "attended_transfer") $("call-status").textContent = "consulting " + extra.target + " — caller on hold";
      if (action === "cancel_transfer") $("call-status").textContent = "talking";
    });
  }));

  $("wrapup").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!call) return;
    const body = { disposition: $("disposition").value, notes: $("notes").value };
    if (customer && customer.id) body.customer_id = customer.id;
    if ($("callback-at").value) body.callback_at = new Date($("callback-at").value).getTime() / 1000;
    const forCall = call;
    $("btn-wrapup").disabled = true;  // one save at a time
    const res = await H.api("POST", "/api/v1/interactions/" + encodeURIComponent(forCall.id) + "/wrap-up", body);
    const out = $("wrapup-result");
    if (res.ok) { out.textContent = "Saved: " + body.disposition; out.className = "notice"; }
    else { out.textContent = (res.data && res.data.error) || "error " + res.status; out.className = "error"; }
    if (res.ok && call === forCall) setPhase("saved"); else refreshControls();
  });

  $("new-customer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = Object.fromEntries(new FormData(ev.target).entries());
    if (call) body.call_id = call.id;  // an agent creates only the record of the caller they handle
    const res = await H.api("POST", "/api/v1/customers", body);
    if (res.ok) { showCustomer(res.data, false); reply(true, "Customer created"); }
    else reply(false, (res.data && res.data.error) || "error");
  });
})();
