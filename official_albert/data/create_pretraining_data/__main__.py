"""Deprecated `python -m official_albert.data.create_pretraining_data`: runs `official_albert.data.pretraining.create_pretraining_data`."""

from official_albert import deprecation

deprecation.run_moved(
    "official_albert.data.create_pretraining_data",
    "official_albert.data.pretraining.create_pretraining_data")
