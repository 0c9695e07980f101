// The customer chat page: talks to Hotline on /chat/ws (frames: chat/protocol.py).
// Every text from the wire is shown with textContent: never parsed as HTML.
"use strict";
(function () {
  const root = document.getElementById("chat");
  const $ = (id) => document.getElementById(id);
  const startForm = $("chat-start"), sayForm = $("chat-say"), text = $("chat-text");
  const log = $("chat-log"), status = $("chat-status"), typing = $("chat-typing");
  const errorBox = $("chat-error"), leave = $("chat-leave");
  const KEY = "hotline-chat-token";
  const seen = new Set();
  let ws = null, open = false, ended = false, retry = 0, typingSent = 0, agentTypingTimer = null;

  function show(el, on) { el.hidden = !on; }
  function setError(message) { errorBox.textContent = message || ""; show(errorBox, !!message); }
  function setStatus(message) { status.textContent = message; }
  function send(frame) { if (ws && open) ws.send(JSON.stringify(frame)); }

  function inChat() {
    show(startForm, false); show(log, true); show(sayForm, true); show(leave, true);
  }
  function toStart(message) {
    sessionStorage.removeItem(KEY);
    ended = false;
    show(startForm, true); show(sayForm, false); show(leave, false); show(typing, false);
    if (message) setStatus(message);
  }
  function duration(s) {
    if (s < 60) return "less than a minute";
    const m = Math.round(s / 60);
    return m === 1 ? "about 1 minute" : "about " + m + " minutes";
  }
  function addMessage(m) {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    const li = document.createElement("li");
    li.className = m.direction === "in" ? "in" : "out";
    li.dataset.seq = String(m.seq);
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = m.direction === "in" ? "You" : m.author;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = m.text;
    li.append(who, body);
    log.append(li);
    log.scrollTop = log.scrollHeight;
    if (m.direction === "out") show(typing, false);
  }

  function onFrame(f) {
    switch (f.type) {
      case "started":
        sessionStorage.setItem(KEY, f.token);
        inChat(); setError("");
        break;
      case "resumed":
        inChat(); setError("");
        f.messages.forEach(addMessage);
        break;
      case "status": {
        const place = f.position ? "You are number " + f.position + " in the queue." : "Waiting for an agent.";
        // (no estimate before the queue has answered anyone lately)
        setStatus(f.wait_s == null ? place : place + " Estimated wait: " + duration(f.wait_s) + ".");
        break;
      }
      case "assigned":
        setStatus("You are chatting with " + f.agent + ".");
        break;
      case "message": addMessage(f); break;
      case "typing": // the agent types: shown until their message, or 4 s after the last hint
        show(typing, f.on);
        clearTimeout(agentTypingTimer);
        agentTypingTimer = setTimeout(() => show(typing, false), 4000);
        break;
      case "ended":
        ended = true;
        sessionStorage.removeItem(KEY);
        show(sayForm, false); show(leave, false); show(typing, false);
        setStatus(f.message);
        show(startForm, true);
        break;
      case "error":
        if (f.field === "token") { toStart(f.message); break; }
        setError(f.message);
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/chat/ws");
    ws.onopen = () => {
      open = true; retry = 0;
      const token = sessionStorage.getItem(KEY);
      if (token) send({ type: "resume", token: token });
      else toStart("");
    };
    ws.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch (err) { setError("Bad answer from the server."); } };
    ws.onclose = (e) => {
      open = false;
      if (e.code === 1009) setError("That message is too long.");
      if (e.code === 4429) { if (errorBox.hidden) setError("Too many connections: try again later."); return; }
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * retry);
    };
  }

  startForm.addEventListener("submit", (e) => {
    e.preventDefault();
    seen.clear(); log.replaceChildren();
    send({ type: "start", name: $("chat-name").value, email: $("chat-email").value, queue: root.dataset.queue });
  });
  sayForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = text.value.trim();
    if (!value || ended) return;
    send({ type: "say", text: value });
    text.value = "";
    typingSent = 0;
  });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); sayForm.requestSubmit(); }
  });
  text.addEventListener("input", () => { // "typing now", at most every 2 s while typing
    const now = Date.now();
    if (text.value && now - typingSent > 2000) { typingSent = now; send({ type: "typing", on: true }); }
  });
  leave.addEventListener("click", () => send({ type: "leave" }));
  connect();
})();
