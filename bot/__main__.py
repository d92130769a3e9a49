import sys

from bot.cli import main

if __name__ == "__main__":  # the guard lets process-pool workers import this module safely
    sys.exit(main())
