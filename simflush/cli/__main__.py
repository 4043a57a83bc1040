"""``python -m simflush.cli``: the ``simflush`` command without the console script."""

from . import main

raise SystemExit(main())
