"""Deprecated `python -m official_albert.data.create_finetuning_data`: runs `official_albert.data.finetuning.create_finetuning_data`."""

from official_albert import deprecation

deprecation.run_moved(
    "official_albert.data.create_finetuning_data",
    "official_albert.data.finetuning.create_finetuning_data")
