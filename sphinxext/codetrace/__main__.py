"""``python -m sphinxext.codetrace``: see :mod:`sphinxext.codetrace.cli`."""

from .cli import main

raise SystemExit(main())
