"""`python -m gpulp` runs the command line (see gpulp.cli)."""

from .cli import main

raise SystemExit(main())
