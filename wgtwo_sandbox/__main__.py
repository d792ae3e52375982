"""Entry point: ``python -m wgtwo_sandbox``."""

from __future__ import annotations

import sys

from .standalone import skip_integration_init

skip_integration_init()

from .cli import main  # noqa: E402 - needs the namespaces registered above

sys.exit(main())
