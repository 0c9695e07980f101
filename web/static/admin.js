// Admin pages over the JSON API: section tables, agents, routing editor, tokens.
"use strict";
(() => {
  const H = Hotline, $ = (id) => document.getElementById(id), el = H.el;
  const root = $("admin"), page = root.dataset.page;
  const say = (ok, text, problems) => {
    const r = $("result"); r.className = ok ? "notice" : "error"; r.replaceChildren(text);
    if (problems && problems.length) r.append(el("ul", { class: "problems" }, ...problems.map((p) => el("li", {}, p.message || p))));
  };

  async function sectionPage() {
    const url = "/api/v1/" + page;
    let res = await H.api("GET", url), version = res.data.version, fields = res.data.fields;
    $("section-title").textContent = page.replace("-", " ") + " (version " + version + ")";
    const thead = $("section-table").querySelector("thead"), tbody = $("section-table").querySelector("tbody");
    thead.replaceChildren(el("tr", {}, el("th", {}, "name"), ...fields.map((f) => el("th", {}, f.replaceAll("_", " "))), el("th")));
    const row = (name, item) => {
      const tr = el("tr", {}, el("td", {}, el("input", { value: name, "data-field": "__name", size: 12 })));
      for (const f of fields) {
        const v = item[f], input = typeof v === "boolean" ? el("input", { type: "checkbox", "data-field": f, "data-type": "bool" })
          : el("input", { value: v ?? "", "data-field": f, "data-type": typeof v === "number" ? "number" : "string", size: 8 });
        if (typeof v === "boolean") input.checked = v;
        tr.append(el("td", {}, input));
      }
      const del = el("button", { type: "button" }, "Remove"); del.onclick = () => tr.remove();
      tr.append(el("td", {}, del));
      return tr;
    };
    const defaults = {};
    tbody.replaceChildren(...Object.entries(res.data.items).map(([n, it]) => { Object.assign(defaults, it); return row(n, it); }));
    $("btn-add-row").onclick = () => tbody.append(row("", Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, typeof v === "string" ? "" : v]))));
    $("btn-save").onclick = async () => {
      const items = {};
      for (const tr of tbody.querySelectorAll("tr")) {
        const item = {}; let name = "";
        for (const input of tr.querySelectorAll("input")) {
          const f = input.dataset.field;
          if (f === "__name") { name = input.value.trim(); continue; }
          item[f] = input.dataset.type === "bool" ? input.checked : input.dataset.type === "number" ? Number(input.value) : input.value;
        }
        if (name) items[name] = item;
      }
      const r = await H.api("PUT", url, { items, base_version: version });
      if (r.ok) { version = r.data.version; $("section-title").textContent = page.replace("-", " ") + " (version " + version + ")"; say(true, "Saved as version " + version); }
      else say(false, r.data.error, r.data.problems);
    };
  }

  async function agentsPage() {
    const load = async () => {
      const res = await H.api("GET", "/api/v1/users");
      $("users").querySelector("tbody").replaceChildren(...res.data.users.map((u) => {
        const edit = el("button", { type: "button" }, "Edit");
        edit.onclick = () => {
          const f = $("user-form");
          f.login.value = u.login; f.display_name.value = u.display_name; f.role.value = u.role; f.team.value = u.team;
          f.skills.value = Object.entries(u.skills).map(([k, v]) => k + ":" + v).join(", ");
          f.languages.value = u.languages.join(", "); f.phone_endpoint.value = u.phone_endpoint; f.password.value = "";
        };
        // disabling signs the user out everywhere and keeps them out (web/admin.py agent_put)
        const toggle = el("button", { type: "button", class: u.disabled ? "enable" : "disable danger" }, u.disabled ? "Enable" : "Disable");
        toggle.onclick = async () => {
          if (!u.disabled && !confirm("Disable " + u.login + "? They are signed out at once and cannot sign in.")) return;
          const r = await H.api("PUT", "/api/v1/users/" + encodeURIComponent(u.login), { disabled: !u.disabled });
          if (r.ok) { say(true, (r.data.disabled ? "Disabled " : "Enabled ") + r.data.login); load(); } else say(false, r.data.error, r.data.problems);
        };
        // Delete: signed out everywhere at once, their tokens revoked; their calls keep their login
        const remove = el("button", { type: "button", class: "delete danger" }, "Delete");
        remove.addEventListener("click", async () => {
          if (!confirm("Delete " + u.login + "? They are signed out at once and their API tokens revoked; their calls and history stay.")) return;
          const r = await H.api("DELETE", "/api/v1/users/" + encodeURIComponent(u.login));
          if (r.ok) { say(true, "Deleted " + u.login); load(); } else say(false, r.data.error, r.data.problems);
        });
        return el("tr", { "data-login": u.login, class: u.disabled ? "muted" : "" }, el("td", {}, u.login), el("td", {}, u.display_name), el("td", {}, u.role), el("td", {}, u.team),
          el("td", {}, Object.entries(u.skills).map(([k, v]) => k + " " + v).join(", ")), el("td", {}, u.languages.join(", ")),
          el("td", { class: "status" }, u.disabled ? "disabled" : "active"), el("td", {}, edit, " ", toggle, " ", remove));
      }));
    };
    $("user-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = ev.target, skills = {};
      for (const part of f.skills.value.split(",").map((s) => s.trim()).filter(Boolean)) {
        const [k, v] = part.split(":"); skills[k.trim()] = Number((v || "").trim());
      }
      const body = { display_name: f.display_name.value, role: f.role.value, team: f.team.value, skills,
        languages: f.languages.value.split(",").map((s) => s.trim()).filter(Boolean), phone_endpoint: f.phone_endpoint.value };
      if (f.password.value) body.password = f.password.value;
      const r = await H.api("PUT", "/api/v1/users/" + encodeURIComponent(f.login.value.trim()), body);
      if (r.ok) { say(true, "Saved " + r.data.login); load(); } else say(false, r.data.error, r.data.problems);
    });
    load();
  }

  async function campaignsPage() {
    const button = (attrs, text, onclick) => { const b = el("button", attrs, text); b.onclick = onclick; return b; };
    const n = (live, k) => live ? String(live[k]) : "—";
    const f = $("campaign-form");
    let version = 0, editing = null;  // editing: the campaign row being edited (null: a new one)
    // Create or edit a campaign (web/campaigns_admin.py): the form <-> its settings; a
    // problem is shown with its field marked.
    const fill = (c) => {
      editing = c;
      const st = c ? c.settings : {};
      f.id.value = c ? c.id : ""; f.id.readOnly = !!c;
      f.name.value = st.name ?? ""; f.mode.value = st.mode ?? "preview"; f.skill.value = st.skill ?? "outbound";
      f.queue.value = st.queue ?? ""; f.priority.value = st.priority ?? 9; f.caller_id.value = st.caller_id ?? "";
      const w = st.calling_window || { start: "09:00:00", end: "21:00:00", days: ["mon", "tue", "wed", "thu", "fri", "sat"] };
      f.window_start.value = w.start; f.window_end.value = w.end;
      for (const box of f.querySelectorAll("input[name=days]")) box.checked = w.days.includes(box.value);
      f.max_attempts.value = st.max_attempts ?? 5;
      const r = st.retry || {}, delay = (o, d) => r[o] ? r[o].delay_minutes : d;
      f.retry_busy.value = delay("busy", 10); f.retry_no_answer.value = delay("no_answer", 60); f.retry_machine.value = delay("machine", 240);
      f.drop_cap.value = st.drop_cap != null ? Math.round(st.drop_cap * 10000) / 100 : 3;
      f.no_answer_timeout_s.value = st.no_answer_timeout_s ?? 25; f.amd_action.value = st.amd_action ?? "message";
      f.default_region.value = st.default_region ?? "US"; f.comment.value = "";
      $("campaign-form-title").textContent = c ? "Edit " + c.id + (c.origin === "hotline.toml" ? " (from hotline.toml)" : "") : "New campaign";
      $("btn-save-campaign").textContent = c ? "Save" : "Create";
      mark([]);
    };
    const num = (v) => v === "" ? v : Number(v);
    const settings = () => {
      const retry = { ...(editing ? editing.settings.retry : {}) };
      for (const o of ["busy", "no_answer", "machine"]) retry[o] = { ...(retry[o] || {}), delay_minutes: num(f["retry_" + o].value) };
      return { name: f.name.value, mode: f.mode.value, skill: f.skill.value.trim(), queue: f.queue.value.trim(),
        priority: num(f.priority.value), caller_id: f.caller_id.value,
        calling_window: { start: f.window_start.value, end: f.window_end.value, days: [...f.querySelectorAll("input[name=days]:checked")].map((b) => b.value) },
        max_attempts: num(f.max_attempts.value), retry, drop_cap: f.drop_cap.value === "" ? "" : Number(f.drop_cap.value) / 100,
        no_answer_timeout_s: num(f.no_answer_timeout_s.value), amd_action: f.amd_action.value, default_region: f.default_region.value.trim() };
    };
    // a problem's field ("calling_window.start", "retry.busy.delay_minutes") -> the form's input
    const input = (field) => {
      const named = { "calling_window.start": "window_start", "calling_window.end": "window_end", "calling_window": "window_end",
        "calling_window.days": "days" }[field] || (field.startsWith("retry.") ? "retry_" + field.split(".")[1] : field.split(".")[0]);
      return named === "days" ? $("campaign-days") : f.elements[named] || null;
    };
    const mark = (fields) => {
      for (const x of f.querySelectorAll(".field-bad")) { x.classList.remove("field-bad"); x.removeAttribute("aria-invalid"); }
      for (const field of fields) { const x = input(field); if (x && x.classList) { x.classList.add("field-bad"); x.setAttribute("aria-invalid", "true"); } }
    };
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { ...settings(), base_version: version, comment: f.comment.value };
      const r = editing ? await H.api("PUT", "/api/v1/campaigns/" + encodeURIComponent(editing.id), body)
        : await H.api("POST", "/api/v1/campaigns", { id: f.id.value.trim(), ...body });
      const out = $("campaign-result");
      if (!r.ok) {
        mark(r.data.fields || []);
        out.replaceChildren(el("p", { class: "error" }, r.data.error || "error " + r.status),
          ...(r.data.problems && r.data.problems.length > 1 ? [el("ul", { class: "problems", id: "campaign-problems" }, ...r.data.problems.map((p) => el("li", {}, p)))] : []));
        return;
      }
      mark([]);
      out.replaceChildren(el("p", { class: "notice" }, (editing ? "Saved " : "Created ") + r.data.id + " (version " + r.data.version + ")"
        + (editing ? "" : ": upload its leads, then Start it")));
      await load();
      fill(null);
    });
    $("btn-new-campaign").onclick = () => { fill(null); $("campaign-result").replaceChildren(); };
    const control = (c, action, label) => button({ class: action + (action === "start" ? " primary" : action === "stop" ? " danger" : "") }, label, async () => {
      if (action === "stop" && !confirm("Stop " + c.id + "? It dials nothing new and is not started again until you start it.")) return;
      const r = await H.api("POST", "/api/v1/campaigns/" + encodeURIComponent(c.id) + "/" + action);
      if (r.ok) { say(true, { pause: "Paused ", start: "Started ", stop: "Stopped " }[action] + c.id); load(); } else say(false, r.data.error);
    });
    // Delete (web/campaigns_admin.py): refused while the campaign runs, is paused or has
    // calls in progress (the server says which); its leads and history stay in the reports.
    const remove = (c) => button({ class: "delete danger" }, "Delete", async () => {
      if (!confirm("Delete " + c.id + "? It is gone from the list and never dials again; its leads and history stay in the reports.")) return;
      const r = await H.api("DELETE", "/api/v1/campaigns/" + encodeURIComponent(c.id));
      if (r.ok) { say(true, "Deleted " + c.id + " (version " + r.data.version + ")"); if (editing && editing.id === c.id) fill(null); load(); } else say(false, r.data.error);
    });
    const load = async () => {
      const res = await H.api("GET", "/api/v1/campaigns");
      version = res.data.version;
      $("live-version").textContent = "(definitions version " + version + (version ? "" : ": hotline.toml's") + ")";
      $("campaigns").querySelector("tbody").replaceChildren(...res.data.campaigns.map((c) => {
        const acts = c.state === "stopped" ? [control(c, "start", "Start")]
          : [c.paused ? control(c, "start", "Start") : control(c, "pause", "Pause"), control(c, "stop", "Stop")];
        const l = c.live;
        return el("tr", { "data-campaign": c.id }, el("th", {}, c.name), el("td", {}, c.mode), el("td", {}, c.skill),
          el("td", { class: "state" }, c.state), el("td", { class: "dials" }, n(l, "dials")), el("td", {}, n(l, "answered")), el("td", {}, n(l, "dropped")),
          el("td", {}, l ? H.pct(l.drop_rate) + " / " + H.pct(l.drop_cap) : "—"), el("td", { class: "leads-left" }, n(l, "leads_left")),
          el("td", { class: "decision" }, l ? l.decision : ""), el("td", { class: "origin" }, c.origin),
          el("td", {}, ...acts, " ", button({ class: "edit" }, "Edit", () => { fill(c); $("campaign-result").replaceChildren(); f.scrollIntoView(); }), " ", remove(c)));
      }));
      // the definitions' versions (v0: hotline.toml's campaigns alone), any earlier one restored
      const versions = [...res.data.history, { version: 0, author: "", comment: "hotline.toml's campaigns only", created_at: null }];
      $("history").querySelector("tbody").replaceChildren(...versions.map((h) => el("tr", { "data-version": String(h.version) },
        el("td", {}, "v" + h.version), el("td", {}, h.author || "—"), el("td", {}, h.created_at ? H.when(h.created_at) : "—"), el("td", {}, h.comment),
        el("td", {}, h.version === version ? el("span", { class: "muted" }, "live") : button({ class: "restore" }, "Restore", async () => {
          if (!confirm("Restore v" + h.version + "? Campaigns it does not have stop dialling; the others take its settings.")) return;
          const r = await H.api("POST", "/api/v1/campaigns/restore", { version: h.version, base_version: version });
          if (r.ok) { say(true, "Restored v" + h.version + " as version " + r.data.version); load(); } else say(false, r.data.error);
        })))));
      const target = $("leads-campaign"), kept = target.value;
      target.replaceChildren(...res.data.campaigns.map((c) => el("option", { value: c.id }, c.name)));
      if (kept) target.value = kept;
      const pick = $("dnc-campaign"), chosen = pick.value;
      pick.replaceChildren(el("option", { value: "" }, "global"), ...res.data.campaigns.map((c) => el("option", { value: c.id }, c.name)));
      pick.value = chosen;
    };
    H.api("GET", "/api/v1/skills").then((r) => { if (r.ok) $("campaign-skills").replaceChildren(...Object.keys(r.data.items || {}).map((k) => el("option", { value: k }))); });
    // The do-not-call list shown: the global one or a campaign's (web/dnc.py's API).
    const loadDnc = async () => {
      const list = $("dnc-campaign").value, q = list ? "?campaign=" + encodeURIComponent(list) : "";
      const res = await H.api("GET", "/api/v1/dnc" + q);
      $("dnc").querySelector("tbody").replaceChildren(...(res.data.entries || []).map((e) => el("tr", { "data-number": e.number },
        el("td", {}, e.number), el("td", {}, H.when(e.added_at)), el("td", {}, e.added_by),
        el("td", {}, button({ class: "remove" }, "Remove", async () => {
          const r = await H.api("DELETE", "/api/v1/dnc?number=" + encodeURIComponent(e.number) + (list ? "&campaign=" + encodeURIComponent(list) : ""));
          if (r.ok) { say(true, "Removed " + e.number); loadDnc(); } else say(false, r.data.error);
        })))));
    };
    $("leads-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = $("leads-result"), list = $("leads-rejected"), file = $("leads-file").files[0], id = $("leads-campaign").value;
      list.replaceChildren();
      if (!file || !id) { out.className = "error"; out.textContent = "Choose a campaign and a CSV file."; return; }
      out.className = "muted"; out.textContent = "Uploading " + file.name + "…";
      const r = await H.api("POST", "/api/v1/campaigns/" + encodeURIComponent(id) + "/leads", { csv: await file.text(), name: file.name });
      if (!r.ok) { out.className = "error"; out.textContent = r.data.error; return; }
      const d = r.data;
      out.className = d.added ? "notice" : "error";
      out.textContent = "Added " + d.added + " lead(s) to " + d.campaign + "; " + d.duplicates + " already there; " + d.rejected.length + " row(s) not added" + (d.rejected.length ? ":" : ".");
      list.replaceChildren(...d.rejected.map((line) => el("li", {}, line)));
      load();
    });
    $("dnc-campaign").addEventListener("change", loadDnc);
    $("dnc-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const list = $("dnc-campaign").value, numbers = $("dnc-numbers").value.split(",").map((x) => x.trim()).filter(Boolean);
      const r = await H.api("POST", "/api/v1/dnc" + (list ? "?campaign=" + encodeURIComponent(list) : ""), { numbers });
      if (r.ok) { say(true, "Added " + numbers.length + " number(s)"); $("dnc-numbers").value = ""; loadDnc(); } else say(false, r.data.error);
    });
    await load(); loadDnc();
    setInterval(load, 5000);
  }

  async function teamsPage() {
    const load = async () => {
      const res = await H.api("GET", "/api/v1/teams");
      $("teams").querySelector("tbody").replaceChildren(...res.data.teams.map((t) => {
        const input = el("input", { placeholder: t.name, "aria-label": "new name for " + t.name });
        const go = el("button", { type: "button" }, "Rename");
        go.onclick = async () => {
          const r = await H.api("POST", "/api/v1/teams/" + encodeURIComponent(t.name) + "/rename", { to: input.value });
          if (r.ok) { say(true, "Renamed " + t.name + " to " + r.data.team + " (" + r.data.users.length + " users)"); load(); } else say(false, r.data.error);
        };
        return el("tr", { "data-team": t.name }, el("th", {}, t.name), el("td", {}, t.agents.join(", ")), el("td", {}, t.supervisors.join(", ")),
          el("td", {}, t.disabled.join(", ")), el("td", {}, input, " ", go));
      }));
    };
    load();
  }

  // The routing rules' and the IVR flow's editor: TOML text shown as it runs (version 0:
  // hotline.toml's), problems marked at their lines, diff, simulate, apply and restore
  // after a confirmation with the diff. `kind`: the API base, what "empty" means (routing
  // only: rules naming no queue need their own tick) and the simulation.
  async function editorPage(kind) {
    const api = kind.api, rules = $("rules"), gutter = $("gutter");
    let live = (await H.api("GET", api)).data, bad = new Set(), timer = null;
    const paintGutter = () => {
      const n = rules.value.split("\n").length;
      gutter.replaceChildren(...Array.from({ length: n }, (_, i) => el("div", { class: bad.has(i + 1) ? "bad-line" : "" }, String(i + 1))));
    };
    const button = (attrs, text, onclick) => { const b = el("button", attrs, text); b.onclick = onclick; return b; };
    const liveName = () => live.version ? "version " + live.version + (live.author ? " by " + live.author : "")
      : live.origin === "hotline.toml" ? "version 0, from hotline.toml" : "version 0, " + kind.none;
    const showLive = () => {
      $("live-version").textContent = "(live: " + liveName() + ")";
      $("history").querySelector("tbody").replaceChildren(...live.history.map((h) =>
        el("tr", { "data-version": String(h.version) }, el("td", {}, "v" + h.version), el("td", {}, h.author || "—"),
          el("td", {}, h.created_at ? H.when(h.created_at) : "—"), el("td", {}, h.comment),
          el("td", {}, h.version === live.version ? el("span", { class: "muted" }, "live")
            : button({ class: "restore" }, "Restore", () => restore(h))))));
    };
    const reload = async () => { live = (await H.api("GET", api)).data; rules.value = live.text; showLive(); paintGutter(); };
    // Apply and restore both ask first: the diff against live, and a warning (with its
    // own checkbox) when the new rules name no queue.
    const confirmBox = $("confirm");
    const ask = (title, diff, empty, go, text) => {
      const check = el("input", { type: "checkbox", id: "confirm-empty" });
      const yes = el("button", { class: "primary", id: "btn-confirm" }, "Confirm");
      const no = button({ id: "btn-cancel" }, "Cancel", () => { confirmBox.hidden = true; });
      yes.onclick = async () => {
        if (empty && !check.checked) { say(false, "Tick the box to apply rules that name no queue."); return; }
        confirmBox.hidden = true; await go(empty && check.checked);
      };
      confirmBox.replaceChildren(el("h3", {}, title),
        el("pre", { class: "diff", id: "confirm-diff" }, diff || "(no change)"),
        ...(empty ? [el("p", { class: "error", id: "empty-warning" }, "These rules name no queue: every call would go to any agent with its skills (no targets, overflow, wrap-up or no-answer handling)."),
          el("label", {}, check, " I understand: apply rules that name no queue")] : []),
        ...(kind.impact ? [el("div", { id: "confirm-impact", class: "muted" }, "Simulating the impact…")] : []),
        el("div", { class: "row" }, yes, no));
      confirmBox.hidden = false;
      if (kind.impact) kind.impact(text, $("confirm-impact"));  // (it shows when it is back; Confirm does not wait)
    };
    const applied = async (r) => {
      if (r.ok) { await reload(); say(true, "Applied as version " + r.data.version); }
      else say(false, r.data.error, r.data.problems);
    };
    const restore = async (h) => {
      const old = (await H.api("GET", api + "/versions/" + h.version)).data;
      const diff = (await H.api("POST", api + "/diff", { text: old.text })).data.diff;
      ask("Restore v" + h.version + (h.version === 0 ? " (from hotline.toml)" : "") + "?", diff, kind.empty(old.text),
        async (confirmEmpty) => applied(await H.api("POST", api + "/restore",
          { version: h.version, base_version: live.version, comment: "restore v" + h.version, confirm_empty: confirmEmpty })), old.text);
    };
    rules.value = live.text; showLive(); paintGutter();
    rules.addEventListener("scroll", () => { gutter.scrollTop = rules.scrollTop; });
    const validate = async () => {
      const r = await H.api("POST", api + "/validate", { text: rules.value });
      const problems = r.data.problems || [];
      bad = new Set(problems.map((p) => p.line).filter(Boolean));
      paintGutter();
      $("problems").replaceChildren(problems.length
        ? el("ul", { class: "problems", id: "problem-list" }, ...problems.map((p) => el("li", {}, (p.line ? "line " + p.line + (p.col ? ":" + p.col : "") + " — " : "") + (p.path ? p.path + ": " : "") + (p.reason || p.message))))
        : el("p", { class: "notice", id: "valid" }, "Valid."));
      return problems.length === 0;
    };
    rules.addEventListener("input", () => { paintGutter(); clearTimeout(timer); timer = setTimeout(validate, 400); });
    $("btn-validate").onclick = validate;
    $("btn-diff").onclick = async () => {
      const r = await H.api("POST", api + "/diff", { text: rules.value });
      const pre = $("diff"); pre.hidden = false;
      pre.replaceChildren(...(r.data.diff || "(no change)\n").split("\n").map((line) =>
        el("span", { class: line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "" }, line + "\n")));
    };
    $("btn-simulate").onclick = () => kind.simulate(rules.value, $("simulation"));
    $("btn-apply").onclick = async () => {
      if (!(await validate())) { say(false, "Fix the problems first."); return; }
      const diff = (await H.api("POST", api + "/diff", { text: rules.value })).data.diff;
      ask("Apply these changes to the live " + kind.what + "?", diff, kind.empty(rules.value),
        async (confirmEmpty) => applied(await H.api("POST", api + "/apply",
          { text: rules.value, base_version: live.version, comment: $("comment").value, confirm_empty: confirmEmpty })), rules.value);
    };
  }

  async function whatIf(text, out) {
    out.replaceChildren(el("p", { class: "muted" }, "Simulating…"));
    const r = await H.api("POST", "/api/v1/routing/simulate", { text });
    const fmt = (k, v) => v == null ? "—" : (["service_level", "abandon_rate", "occupancy"].includes(k) ? H.pct(v)
      : ["asa", "avg_wait", "max_wait", "aht"].includes(k) ? H.secs(v) : String(Math.round(v * 100) / 100));
    if (r.ok) out.replaceChildren(
      el("p", { class: "muted" }, r.data.calls_replayed + " calls of the last " + r.data.days + " days replayed with " + r.data.agents + " agents (live v" + r.data.live_version + " vs edited)"),
      el("table", { id: "simulation-table" }, el("thead", {}, el("tr", {}, el("th", {}, "KPI"), el("th", {}, "live rules"), el("th", {}, "edited rules"), el("th", {}, "difference"))),
        el("tbody", {}, ...Object.keys(r.data.current).map((k) => el("tr", {}, el("th", {}, k.replaceAll("_", " ")),
          el("td", {}, fmt(k, r.data.current[k])), el("td", {}, fmt(k, r.data.candidate[k])), el("td", {}, fmt(k, r.data.difference[k])))))));
    else out.replaceChildren(el("p", { class: "error", id: "simulate-error" }, r.data.error || "error " + r.status));
  }

  // The IVR walked with sample inputs: the caller's number, the digits keyed at each
  // prompt (comma-separated), the time of the call (business hours).
  async function walk(text, out) {
    const digits = $("sim-digits").value.split(",").map((d) => d.trim()).filter((d, i, all) => d || i < all.length - 1);
    const r = await H.api("POST", "/api/v1/ivr/simulate", { text, caller: $("sim-caller").value, digits, at: $("sim-at").value });
    if (!r.ok) { out.replaceChildren(el("p", { class: "error", id: "simulate-error" }, r.data.error || "error " + r.status)); return; }
    const o = r.data.outcome;
    out.replaceChildren(
      el("ol", { id: "sim-steps" }, ...r.data.steps.map((s) => el("li", {}, s.node + " → " + s.result))),
      el("p", { id: "sim-outcome" }, o.action + (o.queue ? " " + o.queue : "") + (o.mailbox ? " mailbox " + o.mailbox : "")
        + (Object.keys(o.skills).length ? " · skills " + Object.entries(o.skills).map(([k, v]) => k + " " + v).join(", ") : "")
        + (o.customer_id ? " · customer " + o.customer_id : "") + (o.priority ? " · priority " + o.priority : "")),
      el("p", { class: "muted" }, "attributes: " + JSON.stringify(o.attributes)));
  }

  // The confirmation's impact line: the edited rules against the live ones on the last 7 days.
  async function impact(text, out) {
    const r = await H.api("POST", "/api/v1/routing/simulate", { text });
    if (!r.ok) { out.textContent = "Impact not simulated: " + (r.data.error || "error " + r.status); return; }
    const c = r.data.current, e = r.data.candidate;
    out.textContent = "Simulated on the last " + r.data.days + " days (" + r.data.calls_replayed + " calls): service level "
      + H.pct(c.service_level) + " → " + H.pct(e.service_level) + ", ASA " + H.secs(c.asa) + " → " + H.secs(e.asa)
      + ", abandoned " + H.pct(c.abandon_rate) + " → " + H.pct(e.abandon_rate);
  }

  const routingPage = () => editorPage({ api: "/api/v1/routing", what: "rules", none: "no rules", simulate: whatIf, impact,
    empty: (text) => !/\[\[?(routing\.)?queues\./.test(text) });
  const ivrPage = () => editorPage({ api: "/api/v1/ivr", what: "IVR flow", none: "no IVR", simulate: walk, empty: () => false });

  async function tokensPage() {
    const load = async () => {
      const r = await H.api("GET", "/api/v1/tokens");
      $("tokens").querySelector("tbody").replaceChildren(...r.data.tokens.map((t) => {
        const rev = el("button", { type: "button" }, "Revoke"); rev.disabled = t.revoked;
        rev.onclick = async () => { await H.api("DELETE", "/api/v1/tokens/" + t.id); load(); };
        const expired = t.expires_at && t.expires_at * 1000 <= Date.now();
        return el("tr", {}, el("td", {}, t.id), el("td", {}, t.login), el("td", {}, t.name), el("td", {}, H.when(t.created_at)),
          el("td", {}, (t.scopes || []).join(", ")), el("td", {}, t.expires_at ? H.when(t.expires_at) : "never"),
          el("td", {}, t.revoked ? "revoked" : expired ? "expired" : "active"), el("td", {}, rev));
      }));
    };
    $("token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: ev.target.name.value, scopes: [ev.target.scope.value], expires_in_days: Number(ev.target.days.value) };
      if (ev.target.login.value) body.login = ev.target.login.value;
      const r = await H.api("POST", "/api/v1/tokens", body);
      if (r.ok) { say(true, "Copy this token now, it is not shown again: " + r.data.token); load(); } else say(false, r.data.error);
    });
    load();
  }

  // The recording policy (web/recording_admin.py): one row per known queue and campaign.
  async function recordingPage() {
    const f = $("recording-form");
    let version = 0;
    const load = async () => {
      const res = await H.api("GET", "/api/v1/recording-policy");
      const d = res.data;
      version = d.version;
      $("live-version").textContent = d.version ? "(version " + d.version + ")" : "(from hotline.toml)";
      f.default.value = d.default;
      const row = (kind, name, value) => el("tr", { "data-kind": kind, "data-name": name }, el("td", {}, kind.slice(0, -1)), el("th", {}, name),
        el("td", {}, el("input", { list: "policies", size: 12, value: value || "", "aria-label": kind.slice(0, -1) + " " + name + " policy" })));
      const names = (kind) => [...new Set([...d["known_" + kind], ...Object.keys(d[kind])])].sort();
      $("recording-policies").querySelector("tbody").replaceChildren(
        ...names("queues").map((n) => row("queues", n, d.queues[n])), ...names("campaigns").map((n) => row("campaigns", n, d.campaigns[n])));
    };
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { default: f.default.value.trim(), queues: {}, campaigns: {}, base_version: version, comment: f.comment.value };
      for (const tr of $("recording-policies").querySelectorAll("tbody tr")) {
        const v = tr.querySelector("input").value.trim();
        if (v) body[tr.dataset.kind][tr.dataset.name] = v;
      }
      const r = await H.api("PUT", "/api/v1/recording-policy", body);
      if (r.ok) { say(true, "Saved as version " + r.data.version + ": the next call connected follows it"); f.comment.value = ""; load(); }
      else say(false, r.data.error, r.data.problems);
    });
    await load();
  }

  async function webhooksPage() {
    const evBox = $("webhook-events");
    const load = async () => {
      const r = await H.api("GET", "/api/v1/webhooks");
      if (!evBox.querySelector("input")) evBox.append(...Object.entries(r.data.events).map(([name, what]) =>
        el("label", { title: what }, el("input", { type: "checkbox", name: "event", value: name }), " " + name)));
      $("webhooks").querySelector("tbody").replaceChildren(...r.data.webhooks.map((w) => {
        const del = el("button", { type: "button" }, "Delete");
        del.onclick = async () => { const d = await H.api("DELETE", "/api/v1/webhooks/" + encodeURIComponent(w.id)); say(d.ok, d.ok ? "Deleted " + w.id : d.data.error); load(); };
        return el("tr", {}, el("td", {}, w.id), el("td", {}, w.url), el("td", {}, w.events.join(", ")), el("td", {}, w.created_by), el("td", {}, H.when(w.created_at)), el("td", {}, del));
      }));
      const d = await H.api("GET", "/api/v1/webhooks/deliveries?limit=100");
      $("deliveries").querySelector("tbody").replaceChildren(...d.data.deliveries.map((x) => el("tr", { class: "delivery-" + x.status },
        el("td", {}, x.id), el("td", {}, x.event), el("td", {}, H.when(x.created_at)), el("td", {}, x.status), el("td", {}, String(x.attempts)),
        el("td", {}, x.last_status ? "HTTP " + x.last_status : x.last_error || "—"), el("td", {}, x.next_at ? H.when(x.next_at) : "—"))));
    };
    $("webhook-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const events = [...evBox.querySelectorAll("input:checked")].map((i) => i.value);
      const body = { url: $("webhook-url").value, events };
      if ($("webhook-secret").value) body.secret = $("webhook-secret").value;
      const r = await H.api("POST", "/api/v1/webhooks", body);
      if (r.ok) { say(true, "Added " + r.data.id + ". Secret (shown once): " + r.data.secret); ev.target.reset(); load(); } else say(false, r.data.error);
    });
    $("btn-refresh").onclick = load;
    load();
    setInterval(load, 5000);
  }

  ({ recording: recordingPage, webhooks: webhooksPage, routing: routingPage, ivr: ivrPage, campaigns: campaignsPage, agents: agentsPage, teams: teamsPage, tokens: tokensPage }[page] || sectionPage)();
})();
