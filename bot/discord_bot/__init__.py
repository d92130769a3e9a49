"""The Discord skin on the core: one module a feature, so the file names say where things are.

| module | owns |
|---|---|
| `app.py` | the bot class, its command tree, start-up and shutdown (`python -m bot run` / `sync`) |
| `ask.py` | asking: `/ask`, "Ask the article", mentions and DMs, the buttons that page, widen, ask again |
| `reference.py` | the corpus itself: `/about`, `/quote` and its autocomplete, `/help` |
| `feedback.py` | 👍 and 👎 under answers, stored through `bot.feedback_store` |
| `reload.py` | `/reload` and the watcher that reloads the corpus when its files change |
| `metrics.py` | Prometheus metrics and `/healthz` for the operator |
| `views.py` | what the features share: an answer with its corpus, replies, the question an answer keeps |

Everything here turns a Discord event into a call on the core's `Composer` and its `Answer` into a
message; retrieval and answering never import discord.
"""
