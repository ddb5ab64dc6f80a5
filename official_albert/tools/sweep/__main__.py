"""Deprecated `python -m official_albert.tools.sweep`: runs `official_albert.sweep.cli`."""

from official_albert import deprecation

deprecation.run_moved(
    "official_albert.tools.sweep",
    "official_albert.sweep.cli", command="official_albert.sweep")
