"""Moved to `official_albert.data.pretraining.train_vocab`; this path is kept for one release."""

from official_albert import deprecation

__getattr__ = deprecation.forward(
    "official_albert.data.pretraining.train_vocab")
