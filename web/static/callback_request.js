// The public call-back form: POST /api/v1/callback-requests; a refused field is shown
// beside it (the API names it in `field`).
"use strict";
(() => {
  const H = Hotline, form = document.getElementById("callback-form"), out = document.getElementById("cb-result");
  const requestId = "r" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);  // one per page: a resend is kept once
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
    const data = Object.fromEntries(new FormData(form).entries());
    const body = { name: data.name, phone: data.phone, email: data.email || "", notes: data.notes || "", request_id: requestId };
    if (data.queue) body.queue = data.queue;
    if (data.at) body.at = new Date(data.at).getTime() / 1000;
    const button = document.getElementById("cb-submit");
    button.disabled = true;
    const res = await H.api("POST", "/api/v1/callback-requests", body);
    button.disabled = false;
    if (res.ok) {
      out.className = "notice";
      out.textContent = "Thank you: we will call " + res.data.number + " " +
        (res.data.due_at - Date.now() / 1000 > 120 ? "at " + H.when(res.data.due_at) : "shortly") + ".";
      return;
    }
    const error = (res.data && res.data.error) || "error " + res.status;
    const spot = res.data && res.data.field && form.querySelector('.field-error[data-field="' + res.data.field + '"]');
    if (spot) { spot.textContent = error; spot.hidden = false; }
    out.className = "error";
    out.textContent = error;
  });
})();
