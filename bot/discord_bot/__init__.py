"""The Discord skin on the core: one module a feature, so the file names say where things are.

| module | owns |
|---|---|
| `app.py` | the bot class, its command tree, start-up and shutdown (`python -m bot run` / `sync`) |
| `ask.py` | asking: `/ask`, mentions and DMs, the buttons that page and widen an answer |
| `reference.py` | the corpus itself: `/about`, `/quote`, `/help` |
| `views.py` | what the features share: ephemeral replies, message arguments, the help embed |

Everything here turns a Discord event into a call on the core's `Composer` and its `Answer` into a
message; retrieval and answering never import discord.
"""
