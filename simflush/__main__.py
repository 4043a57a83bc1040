"""``python -m simflush``: the ``simflush`` command without the console script."""

from .cli import main

raise SystemExit(main())
