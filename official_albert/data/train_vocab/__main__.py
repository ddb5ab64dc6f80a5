"""Deprecated `python -m official_albert.data.train_vocab`: runs `official_albert.data.pretraining.train_vocab`."""

from official_albert import deprecation

deprecation.run_moved(
    "official_albert.data.train_vocab",
    "official_albert.data.pretraining.train_vocab")
