"""``python -m lab up|down|status``: see lab.launcher."""

from lab.launcher import main

raise SystemExit(main())
