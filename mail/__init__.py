"""E-mail as a written channel (issue 18, item 3): inbound mail (an SMTP listener or an
IMAP mailbox) threaded into one task per conversation, the agents' replies sent from a
durable outbox through a relay, attachments kept on disk, HTML mail sanitised.

Modules, each with one job: `config` (the `[mail]` section), `parse` (bytes -> a
parsed mail, pure), `sanitize` (HTML shown to agents), `store` (threads, outbox and
attachment rows over the SQL store), `attachments` (files on disk), `intake` (a parsed
mail -> a task or a message on its task), `listener` (aiosmtpd), `imap` (the mailbox
poller), `outbox` (the relay sender), `service` (wiring in `hotline serve`).
"""
