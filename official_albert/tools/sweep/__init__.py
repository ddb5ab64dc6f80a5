"""Moved to `official_albert.sweep.cli`; this path is kept for one release."""

from official_albert import deprecation

__getattr__ = deprecation.forward(
    "official_albert.sweep.cli")
