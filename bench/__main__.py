"""`python -m bench`: the command-line entry point."""

from bench.cli import main

raise SystemExit(main())
