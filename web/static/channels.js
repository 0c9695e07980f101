// By channel (issue 18): the report page's "Channels" table and the wallboard's
// channel tiles, from /api/v1/reports/channels and /api/v1/wallboard/channels.
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id);
  const num = (v, unit = "") => v == null ? "—" : (typeof v === "number" ? (Number.isInteger(v) ? v : v.toFixed(1)) + unit : v);
  const table = $("channels-table");
  if (table) {
    const q = new URLSearchParams({ from: table.dataset.from, to: table.dataset.to });
    H.api("GET", "/api/v1/reports/channels?" + q).then((res) => {
      if (!res.ok) return;
      table.querySelector("tbody").replaceChildren(...Object.values(res.data.channels).map((c) => H.el("tr", { "data-channel": c.channel },
        H.el("th", {}, c.channel), H.el("td", {}, num(c.offered)), H.el("td", {}, num(c.answered)), H.el("td", {}, num(c.abandoned)),
        H.el("td", {}, H.pct(c.abandon_rate)), H.el("td", {}, num(c.first_response_s, " s")), H.el("td", {}, num(c.first_response_p90_s, " s")),
        H.el("td", {}, num(c.handle_s, " s")), H.el("td", {}, num(c.concurrency)), H.el("td", {}, num(c.concurrency_max)),
        H.el("td", { class: c.overdue ? "overdue bad" : "overdue" }, num(c.overdue)))));
      $("channels-blended").textContent = "Agents held " + num(res.data.blended.concurrency) +
        " contacts at once on average over every channel (at most " + num(res.data.blended.concurrency_max) + ").";
    });
  }
  const tiles = $("channels-board");
  if (tiles) {
    const refresh = async () => {
      const res = await H.api("GET", "/api/v1/wallboard/channels");
      if (!res.ok) return;
      tiles.replaceChildren(...Object.entries(res.data.channels).map(([name, c]) => H.el("div", { class: "tile" + (c.overdue ? " bad" : ""), "data-channel": name },
        H.el("h3", {}, name), H.el("p", {}, "waiting " + c.waiting + " · longest " + H.secs(c.longest_wait_s)),
        H.el("p", {}, "handling " + c.handling),
        H.el("p", { class: c.overdue ? "overdue bad" : "overdue" }, "overdue " + c.overdue))));
    };
    refresh();
    setInterval(refresh, 5000);
  }
})();
