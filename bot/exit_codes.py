"""The command line's exit codes: one definition for `bot.cli` and the Discord bot's start-up.

It sits at the bottom of the layout, importing nothing, so both skins (and anything below them)
may import it.
"""

from __future__ import annotations

EXIT_OK = 0  # done; an abstention is an answer
EXIT_FAILED = 1  # the bot could not run: Discord rejected the token or could not be reached, a port taken
EXIT_USAGE = 2  # bad usage or bad input, said in one line on stderr
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as shells report it)
