"""`official_albert.mg_internals`: fails loudly when Model Garden changes the
internals it reads (the experiment registry, SQuAD's max-context rule).

Tests: `official_albert.mg_internals`.
"""

import collections

from official.core import exp_factory
from official.core import registry
from official.nlp.data import squad_lib_sp
import pytest

from official_albert import configs  # pylint: disable=unused-import
from official_albert import mg_internals

Window = collections.namedtuple("Window", ["start", "length"])


def test_the_internals_are_still_there():
  # Read directly, not through the adapter: this is what fails on an upgrade.
  assert isinstance(exp_factory._REGISTERED_CONFIGS, dict)  # pylint: disable=protected-access
  assert callable(squad_lib_sp._check_is_max_context)  # pylint: disable=protected-access


def test_registered_experiments_are_what_get_exp_config_accepts():
  names = mg_internals.registered_experiments()
  assert names == sorted(names)
  for name in ("albert/pretraining", "albert/sentence_prediction",
               "albert/squad", "albert/race", "albert/tagging"):
    assert name in names
  for name in names:
    # Every listed name resolves; lookup is Model Garden's public registry.
    assert callable(registry.lookup(
        exp_factory._REGISTERED_CONFIGS, name))  # pylint: disable=protected-access
  with pytest.raises(LookupError):
    exp_factory.get_exp_config("albert/no-such-experiment")
  assert "albert/no-such-experiment" not in names


def test_a_new_registration_is_listed():
  @exp_factory.register_config_factory("test_mg_internals/probe")
  def _probe():
    return exp_factory.get_exp_config("albert/pretraining")

  try:
    assert "test_mg_internals/probe" in mg_internals.registered_experiments()
  finally:  # Other tests list the registered experiments.
    del exp_factory._REGISTERED_CONFIGS["test_mg_internals"]  # pylint: disable=protected-access
  assert "test_mg_internals/probe" not in mg_internals.registered_experiments()


def test_is_max_context_is_model_gardens_rule():
  # BERT's example: "bought" (position 7 of "the man went to the store and
  # bought a gallon of milk") is in windows B (3-7) and C (6-10); C gives it
  # more context (1 left, 3 right; B: 4 left, 0 right).
  windows = [Window(0, 5), Window(3, 5), Window(6, 5)]
  assert not mg_internals.is_max_context(windows, 1, 7)
  assert mg_internals.is_max_context(windows, 2, 7)
  for position in range(11):
    for index in range(3):
      assert (mg_internals.is_max_context(windows, index, position)
              == squad_lib_sp._check_is_max_context(  # pylint: disable=protected-access
                  windows, index, position))


def test_a_missing_internal_names_itself():
  with pytest.raises(RuntimeError, match="squad_lib_sp.no_such_name is gone"):
    mg_internals._internal(squad_lib_sp, "no_such_name")  # pylint: disable=protected-access
