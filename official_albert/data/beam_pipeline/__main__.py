"""Deprecated `python -m official_albert.data.beam_pipeline`: runs `official_albert.data.pretraining.beam_pipeline`."""

from official_albert import deprecation

deprecation.run_moved(
    "official_albert.data.beam_pipeline",
    "official_albert.data.pretraining.beam_pipeline")
