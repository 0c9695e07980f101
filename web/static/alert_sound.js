// The wallboard banner's optional sound (issue 17): a short two-note tone made with
// WebAudio (no audio file) when an alert newly appears; never for the alerts already up
// when the page opened. Off unless the page turns it on (wallboard: a checkbox kept per
// browser; TV mode: ?sound=1).
"use strict";
window.HotlineAlertSound = (() => {
  let ctx = null, known = null;
  const key = (a) => (a.subject || a.queue) + "|" + (a.rule || a.kind);

  function tone() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    ctx = ctx || new Ctx();
    if (ctx.state === "suspended") ctx.resume();
    const t = ctx.currentTime;
    [880, 660].forEach((hz, i) => {
      const o = ctx.createOscillator(), g = ctx.createGain(), at = t + i * 0.18;
      o.type = "sine"; o.frequency.value = hz;
      g.gain.setValueAtTime(0.0001, at);
      g.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      o.connect(g).connect(ctx.destination); o.start(at); o.stop(at + 0.17);
    });
    window.hotlineAlertTones = (window.hotlineAlertTones || 0) + 1;  // how many played (the browser test reads it)
  }

  // Each snapshot's alerts; `on`: the sound is chosen. True when one is new.
  function update(alerts, on) {
    const now = new Set(alerts.map(key));
    const fresh = known !== null && [...now].some((k) => !known.has(k));
    known = now;
    if (fresh && on) tone();
    return fresh;
  }
  return { update, tone };
})();
