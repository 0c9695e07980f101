"""Shared web infrastructure (auth, sessions, CSRF, rate limiting, API tokens, base
templates, static files), the admin pages and the JSON REST API.

`setup(app)` wires every web part onto the composition root's application.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from agents.customers_web import setup as setup_customers
    from agents.desktop import setup as setup_desktop
    from agents.my_day import setup as setup_my_day
    from agents.task_tabs import setup as setup_task_tabs
    from chat.web import setup as setup_chat
    from mail.web import setup as setup_mail
    from reports.alert_history import setup as setup_alert_history
    from reports.boards import setup as setup_boards
    from reports.channels_web import setup as setup_channel_reports
    from reports.drill import setup as setup_drill
    from reports.tv import setup as setup_tv
    from reports.web import setup as setup_reports
    from reports.web_agent import setup as setup_agent_report
    from tasks.web import setup as setup_task_desk
    from web.abandoned import setup as setup_abandoned
    from web.account import setup as setup_account
    from web.adherence import setup as setup_adherence
    from web.admin import setup as setup_admin
    from web.app import setup as setup_core
    from web.audit import setup as setup_audit
    from web.callback_requests import setup as setup_callback_requests
    from web.callbacks import setup as setup_callbacks
    from web.campaigns_admin import setup as setup_campaigns_admin
    from web.command_status import setup as setup_command_status
    from web.dnc import setup as setup_dnc
    from web.erasure import setup as setup_erasure
    from web.error_pages import setup as setup_error_pages
    from web.ivr_admin import setup as setup_ivr_admin
    from web.metrics import setup as setup_metrics
    from web.planning import setup as setup_planning
    from web.recording_admin import setup as setup_recording_admin
    from web.recordings import setup as setup_recordings
    from web.search import setup as setup_search
    from web.team_moves import setup as setup_team_moves
    from web.teams import setup as setup_teams
    from web.user_delete import setup as setup_user_delete
    from web.webhooks import setup as setup_webhooks

    setup_core(app)
    setup_error_pages(app)
    setup_metrics(app)
    setup_admin(app)
    setup_ivr_admin(app)
    setup_campaigns_admin(app)
    setup_account(app)
    setup_audit(app)
    setup_task_desk(app)
    setup_desktop(app)
    setup_task_tabs(app)
    setup_my_day(app)
    setup_customers(app)
    setup_erasure(app)
    setup_command_status(app)
    setup_reports(app)
    setup_tv(app)
    setup_boards(app)
    setup_drill(app)
    setup_alert_history(app)
    setup_channel_reports(app)
    setup_agent_report(app)
    setup_dnc(app)
    setup_callbacks(app)
    setup_callback_requests(app)
    setup_planning(app)
    setup_recordings(app)
    setup_recording_admin(app)
    setup_search(app)
    setup_abandoned(app)
    setup_teams(app)
    setup_team_moves(app)
    setup_user_delete(app)
    setup_webhooks(app)
    setup_adherence(app)
    setup_mail(app)  # e-mail: listener, outbox, attachments (mail/)
    setup_chat(app)
