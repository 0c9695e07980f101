// Agent desktop keyboard shortcuts: one key per main action, shown by "?". A key presses
// its button, so it does what a click does and only when a click could: the button is
// shown and enabled (agent.js keeps them following the agent's state and the call).
// Nothing fires while the agent types in a field, or with Ctrl/Alt/Meta held.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id), el = Hotline.el;
  const root = $("desktop");
  if (!root || root.dataset.readonly === "1") return;
  // key -> [label, the buttons it may press (the first usable one)]
  const KEYS = [
    ["a", "Go available", ["btn-available"]],
    ["p", "Pause (with the reason chosen)", ["btn-pause"]],
    ["d", "Accept: dial the previewed lead", ["btn-preview-dial"]],
    ["s", "Skip the previewed lead", ["btn-preview-skip"]],
    ["h", "Hold / resume", ["btn-hold", "btn-resume"]],
    ["x", "Hang up", ["btn-hangup"]],
    ["t", "Transfer (blind, to the target typed; empty: go to the target field)", ["btn-blind"]],
    ["w", "Wrap-up done (save the disposition)", ["btn-wrapup"]],
  ];
  const usable = (b) => b && !b.disabled && !b.hidden && !b.closest("[hidden]");
  const typing = (t) => t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));

  const help = el("div", { id: "shortcuts-help", role: "dialog", "aria-label": "Keyboard shortcuts", hidden: "" },
    el("h3", {}, "Keyboard shortcuts"),
    el("table", { id: "shortcuts-table" }, el("tbody", {},
      ...KEYS.map(([key, label]) => el("tr", { "data-key": key }, el("th", {}, el("kbd", {}, key.toUpperCase())), el("td", {}, label))),
      el("tr", {}, el("th", {}, el("kbd", {}, "?")), el("td", {}, "Show or hide this list")),
      el("tr", {}, el("th", {}, el("kbd", {}, "Esc")), el("td", {}, "Close it")))),
    el("p", { class: "muted" }, "A key works when its button does. Not while you type in a field."));
  help.hidden = true;
  root.prepend(help);
  const hint = el("p", { class: "muted", id: "shortcuts-hint" }, "Press ", el("kbd", {}, "?"), " for keyboard shortcuts.");
  $("reply").after(hint);
  for (const [key, , ids] of KEYS) {
    for (const b of ids.map($).filter(Boolean)) {
      b.setAttribute("aria-keyshortcuts", key.toUpperCase());
      b.title = (b.title ? b.title + " " : "") + "(key " + key.toUpperCase() + ")";
    }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.repeat || typing(ev.target)) return;
    if (ev.key === "?") { help.hidden = !help.hidden; ev.preventDefault(); return; }
    if (ev.key === "Escape" && !help.hidden) { help.hidden = true; ev.preventDefault(); return; }
    const found = KEYS.find(([key]) => key === ev.key.toLowerCase());
    if (!found) return;
    ev.preventDefault();
    const [key, , ids] = found;
    if (key === "t" && usable($("btn-blind")) && !$("transfer-target").value.trim()) { $("transfer-target").focus(); return; }
    // hold/resume: one key, the one that applies (the call's status says whether it is held)
    const order = key === "h" && $("call-status").textContent === "on hold" ? [...ids].reverse() : ids;
    const button = order.map($).find(usable);
    if (!button) return;  // (as a disabled button: nothing)
    if (button.type === "submit" && button.form) button.form.requestSubmit(button); else button.click();
  });
})();
