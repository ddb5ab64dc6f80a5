"""Moved to `official_albert.data.pretraining.create_pretraining_data`; this path is kept for one release."""

from official_albert import deprecation

__getattr__ = deprecation.forward(
    "official_albert.data.pretraining.create_pretraining_data")
