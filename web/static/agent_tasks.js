// Agent desktop: written contacts (chats, e-mails) in tabs beside the call (issue 18).
// The agent's open tasks come from GET /api/v1/agents/{agent}/tasks, read again when the
// desktop's websocket (agent.js) pushes a change of one of them (agents/task_push.py) or
// (re)connects, and every 30 s in case a push was lost; a tab's
// actions are the contract's task commands (agents/commands.py, those marked on_task),
// posted like the call controls. Which action is which comes from the embedded table:
// the one with a `text` field replies, `target` transfers, `disposition` closes, and the
// one with none of them accepts an offer.
// A task offered to the agent (the channel's accept time, routing rules `rona.accept_s`)
// is not a tab yet: it shows as an offer card (channel, customer, queue, the seconds left
// as the server counted them) with the Accept button; accepted, it opens as a tab; not
// accepted in time, the leader takes it back (a miss, as a call's ring-no-answer) and
// its push makes the card go.
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id);
  const root = $("desktop"), agent = root.dataset.agent;
  const READONLY = root.dataset.readonly === "1";
  const COMMANDS = JSON.parse($("commands").textContent);
  const DISPOSITIONS = JSON.parse($("task-dispositions").textContent);
  const TASK_ACTIONS = Object.keys(COMMANDS).filter((a) => COMMANDS[a].on_task);
  const actionWith = (field) => TASK_ACTIONS.find((a) => COMMANDS[a].fields.includes(field));
  const REPLY = actionWith("text"), TRANSFER = actionWith("target"), CLOSE = actionWith("disposition");
  const ACCEPT = TASK_ACTIONS.find((a) => ![REPLY, TRANSFER, CLOSE].includes(a));
  const FALLBACK_MS = 30000;  // (the pushes do the work; this only repairs a lost one)
  const tabs = new Map();  // task id -> { tab, panel, transcript, history, count }
  const offers = new Map();  // offered task id -> { card, timer, offeredAt }
  let active = null;

  function select(taskId) {
    active = taskId;
    for (const [id, t] of tabs) {
      t.tab.classList.toggle("active", id === taskId);
      t.tab.setAttribute("aria-selected", id === taskId ? "true" : "false");
      t.panel.hidden = id !== taskId;
    }
  }

  function field(label, input) { return H.el("label", {}, label + " ", input); }

  async function act(taskId, action, extra, out) {
    out.textContent = COMMANDS[action].label + "…"; out.className = "muted";
    const body = { action, task_id: taskId, request_id: taskId.slice(0, 40) + "-" + Date.now().toString(36), ...extra };
    const res = await H.api("POST", "/api/v1/agents/" + encodeURIComponent(agent) + "/commands", body);
    out.textContent = res.ok ? COMMANDS[action].label + ": done" : ((res.data && res.data.error) || "error " + res.status);
    out.className = res.ok ? "notice" : "error";
    return res.ok;
  }

  function customerName(t) {
    return (t.customer && t.customer.name) || t.task.attrs.name || t.task.attrs.email || "unknown customer";
  }

  function offerCard(t) {
    const task = t.task, id = task.task_id;
    const left = H.el("span", { class: "offer-countdown" });
    const out = H.el("span", { role: "status", class: "muted task-result" });
    const card = H.el("div", { class: "task-offer", role: "alert", "data-task": id, "data-channel": task.channel },
      H.el("strong", { class: "offer-channel" }, task.channel), " from ",
      H.el("span", { class: "offer-customer" }, customerName(t)),
      " · queue ", H.el("span", { class: "offer-queue" }, task.queue),
      task.subject ? H.el("span", { class: "offer-subject" }, " · " + task.subject) : "", " · ", left);
    let timer = null;
    if (t.offer) {  // seconds left as the server counted them (no clock skew)
      const ends = Date.now() + 1000 * t.offer.expires_in_s;
      const tick = () => {
        const s = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
        left.textContent = s + " s to accept";
        if (s === 0) { clearInterval(timer); refresh(); }  // (the leader's push follows; this only repairs a lost one)
      };
      tick();
      timer = setInterval(tick, 250);
    }
    if (!READONLY && ACCEPT) {
      const accept = H.el("button", { type: "button", class: "primary task-accept", "data-task-action": ACCEPT }, COMMANDS[ACCEPT].label);
      accept.addEventListener("click", async () => {
        accept.disabled = true;
        if (!(await act(id, ACCEPT, {}, out))) accept.disabled = false;
        refresh();
      });
      card.append(" ", accept, " ", out);
    }
    $("task-offers").append(card);
    offers.set(id, { card, timer, offeredAt: task.offered_at });
  }

  function build(t) {
    const task = t.task, id = task.task_id;
    const tab = H.el("a", { href: "#", role: "tab", class: "task-tab", "data-task": id, "data-channel": task.channel },
      task.channel + ": " + (task.subject || (t.customer && t.customer.name) || id.slice(0, 8)));
    tab.addEventListener("click", (ev) => { ev.preventDefault(); select(id); });
    const transcript = H.el("ol", { class: "transcript plain", "aria-live": "polite" });
    const history = H.el("ul", { class: "plain task-history" });
    const c = t.customer;
    const card = c ? H.el("dl", { class: "kv task-customer" },
      H.el("dt", {}, "Customer"), H.el("dd", { class: "customer-name" }, c.name),
      H.el("dt", {}, "Company"), H.el("dd", {}, c.company || "—"),
      H.el("dt", {}, "Email"), H.el("dd", {}, c.email || "—"),
      H.el("dt", {}, "Phones"), H.el("dd", {}, (c.phones || []).join(", ") || "—"),
      H.el("dt", {}, "Tier"), H.el("dd", {}, c.tier || "—"))
      : H.el("p", { class: "muted" }, "Unknown customer" + (task.attrs.email ? " (" + task.attrs.email + ")" : ""));
    const panel = H.el("div", { class: "task-panel", role: "tabpanel", "data-task": id },
      H.el("p", { class: "muted" }, "Queue " + task.queue + " · opened " + H.when(task.created_at) +
        (task.due_at ? " · answer by " + H.when(task.due_at) : "")),
      H.el("div", { class: "grid2" }, H.el("div", {}, card, H.el("h3", {}, "History"), history),
        H.el("div", {}, H.el("h3", {}, "Conversation"), transcript)));
    const out = H.el("p", { role: "status", class: "muted task-result" });
    if (!READONLY) {
      const text = H.el("textarea", { class: "task-reply-text", maxlength: "4000", rows: "3" });
      text.addEventListener("input", () => typing(id));
      const send = H.el("button", { class: "primary task-send", type: "button", "data-task-action": REPLY }, COMMANDS[REPLY].label);
      send.addEventListener("click", async () => {
        if (!text.value.trim()) return;
        send.disabled = true;
        if (await act(id, REPLY, { text: text.value }, out)) text.value = "";
        send.disabled = false;
        refresh();
      });
      const kind = H.el("select", { class: "task-transfer-kind" },
        ...COMMANDS[TRANSFER].target_kinds.map((k) => H.el("option", { value: k }, k)));
      const target = H.el("input", { class: "task-transfer-target", list: "transfer-queues", placeholder: "billing / agent07" });
      const transfer = H.el("button", { type: "button", class: "task-transfer", "data-task-action": TRANSFER }, COMMANDS[TRANSFER].label);
      transfer.addEventListener("click", async () => {
        if (await act(id, TRANSFER, { target_kind: kind.value, target: target.value }, out)) refresh();
      });
      const disposition = H.el("select", { class: "task-disposition", required: "" }, H.el("option", { value: "" }, "—"),
        ...Object.entries(DISPOSITIONS).map(([code, d]) => H.el("option", { value: code }, d.label || code)));
      const notes = H.el("textarea", { class: "task-notes", maxlength: "4000", rows: "2" });
      const close = H.el("button", { type: "button", class: "danger task-close", "data-task-action": CLOSE }, COMMANDS[CLOSE].label);
      close.addEventListener("click", async () => {
        if (!disposition.value) { out.textContent = "disposition: choose one"; out.className = "error"; return; }
        if (await act(id, CLOSE, { disposition: disposition.value, notes: notes.value }, out)) refresh();
      });
      panel.append(
        H.el("div", { class: "task-reply" }, field("Reply", text), send),
        H.el("div", { class: "row task-transfer-row" }, field("Transfer to", kind), field("Target", target), transfer),
        H.el("div", { class: "row task-wrapup" }, field("Disposition", disposition), field("Notes", notes), close), out);
    }
    const hint = H.el("p", { class: "muted task-typing", hidden: "" }, "Customer is typing…");
    transcript.after(hint);
    $("task-tabs").append(tab);
    $("task-panels").append(panel);
    tabs.set(id, { tab, panel, transcript, history, count: -1, historyCount: -1, hint, ws: null, typedAt: 0, hintTimer: null });
    if (!READONLY) watch(id);
  }

  // Live hints for a tab (chat/agent_socket.py): the customer typing; and the agent's
  // own typing, passed to the customer's page.
  function watch(id) {
    const entry = tabs.get(id);
    if (!entry) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(proto + "//" + location.host + "/agent/tasks/" + encodeURIComponent(id) + "/ws");
    entry.ws = ws;
    ws.onmessage = (m) => {
      let f; try { f = JSON.parse(m.data); } catch (e) { return; }
      if (f.type === "typing") {
        entry.hint.hidden = false;
        clearTimeout(entry.hintTimer);
        entry.hintTimer = setTimeout(() => { entry.hint.hidden = true; }, 4000);
      }
    };
    ws.onclose = () => { if (tabs.get(id) === entry && entry.ws === ws) setTimeout(() => tabs.get(id) === entry && watch(id), 2000); };
  }
  function typing(id) {
    const entry = tabs.get(id), now = Date.now();
    if (entry && entry.ws && entry.ws.readyState === WebSocket.OPEN && now - entry.typedAt > 2000) {
      entry.typedAt = now;
      entry.ws.send('{"type":"typing"}');
    }
  }

  // An e-mail's extras (mail/web.py): its HTML, sanitised by the server, in a sandboxed
  // frame (no script, no remote loads: the page's CSP), and its attachments as links.
  function mailParts(taskId, m) {
    const parts = [], meta = m.meta || {}, base = "/api/v1/tasks/" + encodeURIComponent(taskId);
    if (m.html) {
      parts.push(H.el("details", { class: "msg-html" }, H.el("summary", {}, "Formatted" +
        (meta.blocked_images ? " (" + meta.blocked_images + " remote images not loaded)" : "")),
        H.el("iframe", { sandbox: "", referrerpolicy: "no-referrer", title: "formatted e-mail",
          src: base + "/messages/" + encodeURIComponent(m.message_id) + "/html" })));
    }
    const files = meta.attachments || [];
    if (files.length) {
      parts.push(H.el("ul", { class: "plain msg-attachments" }, ...files.map((a) => H.el("li", {},
        H.el("a", { href: "/api/v1/mail/attachments/" + encodeURIComponent(a.id), download: a.filename },
          a.filename + " (" + Math.ceil(a.size / 1024) + " KB)")))));
    }
    for (const a of meta.attachments_too_large || []) {
      parts.push(H.el("p", { class: "muted" }, a.filename + ": not kept (too large)"));
    }
    return parts;
  }

  function fill(t) {
    const entry = tabs.get(t.task.task_id);
    if (t.messages.length !== entry.count) {
      if (entry.count >= 0 && t.messages.slice(entry.count).some((m) => m.direction === "in")) entry.hint.hidden = true;
      entry.count = t.messages.length;
      entry.transcript.replaceChildren(...t.messages.map((m) => H.el("li", { class: "msg msg-" + m.direction },
        H.el("span", { class: "muted" }, (m.direction === "in" ? m.author || "customer" : m.author) + " · " + H.when(m.at) + ": "),
        H.el("span", { class: "msg-text" }, m.text), ...mailParts(t.task.task_id, m))));
    }
    if (t.history.length !== entry.historyCount) {
      entry.historyCount = t.history.length;
      entry.history.replaceChildren(...t.history.map((r) => H.el("li", { class: "history-row", "data-channel": r.channel },
        H.when(r.started_at) + " · " + r.channel + " · " + (r.subject || r.queue || "") + " · " + (r.outcome || "") +
        (r.disposition ? " · " + r.disposition : ""))));
    }
  }

  // One read at a time; a push during a read asks for one more after it (never lost).
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do { again = false; await load(); } while (again);
    } finally {
      busy = false;
    }
  }
  async function load() {
    const res = await H.api("GET", "/api/v1/agents/" + encodeURIComponent(agent) + "/tasks");
    if (!res.ok) return;
    const mine = res.data.tasks.filter((t) => t.task.state !== "offered");
    const offered = res.data.tasks.filter((t) => t.task.state === "offered");
    const open = new Set(mine.map((t) => t.task.task_id));
    const pending = new Map(offered.map((t) => [t.task.task_id, t.task.offered_at]));
    for (const [id, t] of tabs) {
      if (!open.has(id)) { t.tab.remove(); t.panel.remove(); tabs.delete(id); if (t.ws) t.ws.close(); }
    }
    for (const [id, o] of offers) {
      // (gone, or offered anew: its own countdown)
      if (pending.get(id) !== o.offeredAt) { clearInterval(o.timer); o.card.remove(); offers.delete(id); }
    }
    for (const t of offered) { if (!offers.has(t.task.task_id)) offerCard(t); }
    for (const t of mine) { if (!tabs.has(t.task.task_id)) build(t); fill(t); }
    if (!tabs.has(active)) select(tabs.size ? tabs.keys().next().value : null);
    $("no-tasks").hidden = tabs.size + offers.size > 0;
    $("tasks-count").textContent = String(tabs.size);
  }
  document.addEventListener("hotline:task", refresh);
  document.addEventListener("hotline:desktop-hello", refresh);
  refresh();
  setInterval(refresh, FALLBACK_MS);
})();
