"""Moved to `official_albert.data.pretraining.beam_pipeline`; this path is kept for one release."""

from official_albert import deprecation

__getattr__ = deprecation.forward(
    "official_albert.data.pretraining.beam_pipeline")
