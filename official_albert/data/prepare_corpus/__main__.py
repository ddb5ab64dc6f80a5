"""Deprecated `python -m official_albert.data.prepare_corpus`: runs `official_albert.data.pretraining.prepare_corpus`."""

from official_albert import deprecation

deprecation.run_moved(
    "official_albert.data.prepare_corpus",
    "official_albert.data.pretraining.prepare_corpus")
