"""The Discord skin on the core: one module a feature, so the file names say where things are.

| module | owns |
|---|---|
| `app.py` | the bot class, its command tree, start-up, shutdown; loads the others as extensions |
| `ask.py` | asking: `/ask`, "Ask the article", mentions and DMs, the buttons that page, widen, ask again |
| `reference.py` | the corpus itself: `/about`, `/quote` and its autocomplete, `/help` |
| `feedback.py` | 👍 and 👎 under answers |
| `votes.py` | the vote store (`bot.stores.feedback`) called off the event loop |
| `reload.py` | `/reload` and the watcher that reloads the corpus when its files change |
| `metrics.py` | Prometheus metrics and `/healthz` for the operator |
| `views.py` | what the features share: replies, the question kept, the bot's interface (`Answering`) |

Each feature module is a discord.py extension (an `async def setup(bot)` that adds its cog and
buttons); none imports `app.py` but for type checking, so no import runs in a circle.

Everything here turns a Discord event into a call on the core's `Composer` and its `Answer` into a
message; retrieval and answering never import discord.
"""
