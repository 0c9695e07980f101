// A watched agent's desktop: the monitor buttons (monitor.js) report in #monitor-status.
"use strict";
HotlineMonitor.wire(document.getElementById("monitor"), (text, ok) => {
  const s = document.getElementById("monitor-status");
  s.textContent = text; s.className = ok ? "muted" : "error";
});

// Force pause / force logout (the contract's force_pause, force_logout): the server
// fills in the supervisor from the sign-in and refuses them while a call rings or talks.
document.getElementById("supervise").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-force]");
  if (!b) return;
  const agent = b.closest("[data-supervise-agent]").dataset.superviseAgent, action = b.dataset.force;
  const body = action === "force_pause" ? { action, reason: document.getElementById("force-reason").value } : { action };
  const r = await Hotline.api("POST", "/api/v1/agents/" + encodeURIComponent(agent) + "/commands", body);
  const s = document.getElementById("monitor-status");
  s.textContent = r.ok ? (action === "force_pause" ? "paused " : "logged out ") + agent : (r.data && r.data.error) || "refused (" + r.status + ")";
  s.className = r.ok ? "muted" : "error";
});
