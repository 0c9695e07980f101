// Hotline's chat widget, for a company's own site:
//   <script src="https://hotline.example.com/chat/widget.js" data-queue="support" async></script>
// It adds a "Chat with us" button; the chat itself runs in a frame of Hotline's /chat/
// page (the site must be in Hotline's [chat] allowed_origins), so the site's scripts
// never see the conversation and the conversation's text never enters the site's page.
"use strict";
(function () {
  const script = document.currentScript;
  if (!script || window.__hotlineChat) return;
  window.__hotlineChat = true;
  const base = new URL(script.src, location.href).origin;
  const queue = script.dataset.queue || "";
  const label = script.dataset.label || "Chat with us";
  const OPEN = "hotline-chat-open";

  const button = document.createElement("button");
  button.type = "button";
  button.id = "hotline-chat-button";
  button.textContent = label;
  Object.assign(button.style, {
    position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483646", padding: "10px 16px",
    border: "0", borderRadius: "20px", background: "#2457c5", color: "#fff", font: "15px system-ui, sans-serif",
    cursor: "pointer", boxShadow: "0 2px 8px rgba(0,0,0,.25)",
  });
  let frame = null;

  function openFrame() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "hotline-chat-frame";
      frame.title = label;
      frame.src = base + "/chat/" + (queue ? "?queue=" + encodeURIComponent(queue) : "");
      Object.assign(frame.style, {
        position: "fixed", right: "20px", bottom: "70px", width: "360px", height: "520px",
        maxWidth: "calc(100vw - 40px)", maxHeight: "calc(100vh - 90px)", border: "1px solid #b8c0cc",
        borderRadius: "8px", background: "#fff", zIndex: "2147483647", boxShadow: "0 4px 16px rgba(0,0,0,.25)",
      });
      document.body.append(frame);
    }
    frame.hidden = false;
    sessionStorage.setItem(OPEN, "1");
  }
  function closeFrame() {
    if (frame) frame.hidden = true;
    sessionStorage.removeItem(OPEN);
  }
  button.addEventListener("click", () => (frame && !frame.hidden ? closeFrame() : openFrame()));
  function mount() {
    document.body.append(button);
    if (sessionStorage.getItem(OPEN)) openFrame(); // a reload reopens the chat in progress
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
