"""The customer chat (issue 18, item 2): the widget a company embeds on its site, its
page and websocket, served by every Hotline process.

- `config`: `[chat]` (queues, sites allowed to embed, limits);
- `protocol`: the websocket's frames, parsed and checked (pure);
- `limits`: messages and new chats per connection and per address;
- `service`: a conversation's life on the task desk (start, resume, say, leave, sweep);
- `web`: `/chat/widget.js`, `/chat/` (the page), `/chat/ws`.
"""
