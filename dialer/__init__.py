"""Outbound dialing: campaigns, lead lists, do-not-call lists, pacing and its simulation.

Public API (pure, synchronous; time is always passed in):

- `dialer.leads`: `parse_leads_csv(text, default_region, source)` / `load_leads_csv(path)`
  -> `LeadImport(leads, rejected)`; `Lead`; `normalize_phone`; `time_zones_for`.
- `dialer.dnc`: `DoNotCall` (global + per-campaign lists, E.164, checked at dial time),
  `parse_dnc_csv` (a do-not-call import file).
- `dialer.durable`: a lead's state as the store keeps it (`record_of`, `state_of`).
- `dialer.campaign`: `CampaignConfig` / `parse_campaign` / `load_campaign` (TOML `[campaign]`),
  `CampaignBook` (`add_leads`, `next_leads(now, n)`, `preview(now)`, `record_outcome`,
  `record_connected`, `record_disposition`, `counts`, `leads_left`), `window_open`,
  `next_window_open`.
- `dialer.pacing`: `Pacer` (`decide(PacingSnapshot, mode) -> PacingDecision`,
  `observe_dial_result`, `observe_live_answer`, `observe_handle_time`), `PacingConfig`,
  `DropBudget`, `max_window_rate`.
- `dialer.sim`: `DialerSimConfig`, `run_dialer_sim(config, sink)` (SimPy; never inside asyncio).
- `dialer.cli`: `sim_dialer` (click), `python -m dialer.cli`.

The live side, `dialer.live` (asyncio, run inside cti.live.LiveCenter's consumer):
`parse_live_campaigns` (`[campaigns.<name>]` of the main config), `open_book` (the
lead book from the store, the CSV adding only the leads it does not know), `load_book`,
`DialerRunner` (pacing ticks -> AMI originate; OriginateResulted and the AMD UserEvent
DialerAMD -> results; humans queued to the router at top priority and dropped with the
recorded message when no agent is offered within 2 s; the `campaigns` wallboard state
map; each lead's state written before it is dialled, the durable do-not-call lists read
before every dial), `start_dialers` (wired in cti/live_root.py). `dialer.dnc_cli`:
`hotline dnc import FILE [--campaign C]`.
"""
