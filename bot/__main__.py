import sys

if __name__ == "__main__":  # guarded, and importing nothing: spawned pool workers import this module
    from bot.cli import main

    sys.exit(main())
