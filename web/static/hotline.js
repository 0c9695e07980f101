// Shared helpers: JSON calls with the CSRF header, websockets with reconnect, formatting.
"use strict";
const Hotline = (() => {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  async function api(method, url, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const res = await fetch(url, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
    return { ok: res.ok, status: res.status, data };
  }
  function socket(path, onMessage, onStatus) {
    let delay = 500, ws = null;
    const open = () => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      ws = new WebSocket(proto + "//" + location.host + path);
      ws.onopen = () => { delay = 500; onStatus && onStatus(true); };
      ws.onmessage = (m) => { try { onMessage(JSON.parse(m.data)); } catch (e) { console.error(e); } };
      ws.onclose = () => { onStatus && onStatus(false); setTimeout(open, delay); delay = Math.min(delay * 2, 10000); };
    };
    open();
    return () => ws;
  }
  // A wallboard's socket (reports/board_delta.py): the whole board first, then deltas of
  // the agents' cells, folded here into the whole board `onBoard` is given each time.
  function boardSocket(path, onBoard, onStatus) {
    let board = null;
    return socket(path, (m) => {
      if (m.type === "wallboard") board = m;
      else if (m.type === "wallboard_delta" && board) board = mergeBoard(board, m);
      else return;
      onBoard(board);
    }, (up) => { if (!up) board = null; onStatus && onStatus(up); });
  }
  function mergeBoard(board, d) {
    const cells = new Map(board.agents.map((a) => [a.id, a]));
    for (const id of d.agents_removed) cells.delete(id);
    let added = false;
    for (const a of d.agents_changed) { added = added || !cells.has(a.id); cells.set(a.id, a); }
    const agents = [...cells.values()];
    if (added) agents.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const merged = { ...d, type: "wallboard", agents };
    delete merged.agents_changed; delete merged.agents_removed;
    return merged;
  }
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
    return e;
  };
  const pct = (v) => v == null ? "—" : (v * 100).toFixed(0) + "%";
  const secs = (v) => v == null ? "—" : Math.round(v) + " s";
  const dur = (s) => { s = Math.max(0, Math.floor(s)); const m = Math.floor(s / 60), r = s % 60;
    return m >= 60 ? Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") : m + ":" + String(r).padStart(2, "0"); };
  const when = (t) => t ? new Date(t * 1000).toLocaleString() : "";
  return { api, socket, boardSocket, el, pct, secs, dur, when, csrf };
})();
