"""Run a bot module with discord.py pointed at a fake Discord server.

Usage: ``FAKE_DISCORD_API=http://127.0.0.1:PORT/api/v10 FAKE_DISCORD_GATEWAY=ws://127.0.0.1:PORT/gateway
python tests/run_patched.py [ARGS...]``

Applies ``tests/fake_discord.patch_discord_urls`` (``FAKE_DISCORD_CDN`` optional), then runs the module
named by ``FAKE_DISCORD_MODULE`` (default ``bot``) like ``python -m bot ARGS...``: ``sys.argv[1:]`` is
ARGS and the current directory (not ``tests/``) is first on ``sys.path``. ``FakeDiscord.env()`` gives
the variables. Signals are left alone, so SIGTERM behaves as it does for ``python -m bot``.
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys
from pathlib import Path


def main() -> None:
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    patch_discord_urls = importlib.import_module("fake_discord").patch_discord_urls

    try:
        api = os.environ["FAKE_DISCORD_API"]
        gateway = os.environ["FAKE_DISCORD_GATEWAY"]
    except KeyError as exc:
        sys.exit(f"run_patched.py: environment variable {exc.args[0]} is not set")
    cdn = os.environ.get("FAKE_DISCORD_CDN") or None
    module = os.environ.get("FAKE_DISCORD_MODULE") or "bot"

    # Behave like `python -m MODULE`: the current directory first on sys.path, not this script's folder.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.path.insert(0, os.getcwd())
    sys.argv = [module, *sys.argv[1:]]
    escapes: list[str] = []
    try:
        with patch_discord_urls(api, gateway, cdn_base=cdn, escapes=escapes):
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        if escapes:
            print(f"run_patched.py: blocked requests to real Discord: {escapes}", file=sys.stderr)


if __name__ == "__main__":
    main()
