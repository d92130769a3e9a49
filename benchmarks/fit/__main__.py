"""`python -m benchmarks.fit`: see `benchmarks.fit.command`."""

from benchmarks.fit.command import main

if __name__ == "__main__":
    raise SystemExit(main())
