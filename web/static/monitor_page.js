// A watched agent's desktop: the monitor buttons (monitor.js) report in #monitor-status.
"use strict";
HotlineMonitor.wire(document.getElementById("monitor"), (text, ok) => {
  const s = document.getElementById("monitor-status");
  s.textContent = text; s.className = ok ? "muted" : "error";
});
