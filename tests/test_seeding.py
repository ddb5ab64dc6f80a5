"""`task.seed` reaches every experiment's input pipeline.

That two `train.py` runs with one seed give the same metrics and weights, and
another seed other ones, is checked on real runs in tests/test_sweep.py
(a sweep's seed runs against a repeat of one of them).

Tests: `official_albert.training.seeding`.
"""

import pytest

from official_albert.configs import overrides


def test_seed_reaches_the_input_pipeline():
  params = overrides.parse_configuration(
      "albert/sentence_prediction", None,
      "task.seed=5,task.validation_data.seed=9")
  assert params.task.train_data.seed == 5
  assert params.task.validation_data.seed == 9  # An explicit seed stays.
  assert params.task.train_data.deterministic is True
  unseeded = overrides.parse_configuration("albert/sentence_prediction",
                                           None, "")
  assert unseeded.task.seed is None and unseeded.task.train_data.seed is None


@pytest.mark.parametrize("experiment", ["albert/pretraining", "albert/squad"])
def test_every_experiment_has_the_seed(experiment):
  params = overrides.parse_configuration(experiment, None, "task.seed=3")
  assert params.task.train_data.seed == 3
