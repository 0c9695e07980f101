// Supervisor monitoring (listen / whisper / barge / stop) of an agent's call, on the
// wallboard's agent cells and a watched agent's desktop. Each button posts the command
// contract's monitor or stop_monitor about that agent; the server fills in who listens
// and from which phone (it rings the supervisor's own phone into ChanSpy).
"use strict";
const HotlineMonitor = (() => {
  const H = Hotline, el = H.el;
  const MODES = ["listen", "whisper", "barge"];
  const TITLES = { listen: "hear the call", whisper: "coach: only the agent hears you", barge: "join: both hear you" };

  function buttons(agentId) {
    return el("span", { class: "monitor row", "data-monitor-agent": agentId },
      ...MODES.map((m) => el("button", { type: "button", "data-monitor": m, title: TITLES[m] + " (your phone rings)" }, m)),
      el("button", { type: "button", "data-monitor": "stop", title: "stop monitoring" }, "stop"));
  }

  async function send(agentId, mode) {
    const body = mode === "stop" ? { action: "stop_monitor" } : { action: "monitor", mode };
    return H.api("POST", "/api/v1/agents/" + encodeURIComponent(agentId) + "/commands", body);
  }

  // One listener on `root` (its cells are re-rendered every second); `show(text, ok)`.
  function wire(root, show) {
    root.addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-monitor]");
      if (!b) return;
      const agent = b.closest("[data-monitor-agent]").dataset.monitorAgent, mode = b.dataset.monitor;
      const r = await send(agent, mode);
      const done = mode === "stop" ? "stopped monitoring " + agent : mode + " on " + agent + ": your phone rings";
      show(r.ok ? done : (r.data && r.data.error) || "refused (" + r.status + ")", r.ok);
    });
  }
  return { buttons, wire };
})();
