"""SQuAD scores: hand-computed cases for every normalisation rule, and the
official scripts (Model Garden's copies) as the oracle on the real dev sets.

Tests: `official_albert.metrics.squad`.
"""

import json

import numpy as np
import pytest
from official.nlp.tools import squad_evaluate_v1_1
from official.nlp.tools import squad_evaluate_v2_0

from official_albert.errors import UserError
from official_albert.metrics import squad


@pytest.fixture(scope="module")
def dev_v1(test_data):
  return squad.load_dataset(str(test_data / "squad/dev-v1.1.json"))


@pytest.fixture(scope="module")
def dev_v2(test_data):
  return squad.load_dataset(str(test_data / "squad/dev-v2.0.json"))


def _only(dataset, qid):
  """The dataset reduced to the one question `qid` (a real SQuAD question)."""
  for article in dataset:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        if qa["id"] == qid:
          return [{"paragraphs": [{"context": paragraph["context"],
                                   "qas": [qa]}]}]
  raise KeyError(qid)


BRONCOS = "56be4db0acb8001400a502ec"  # gold: "Denver Broncos" (x3)
VENUE = "56be4db0acb8001400a502ee"  # "Santa Clara, California" | "Levi's
# Stadium" | "Levi's Stadium in the San Francisco Bay Area at Santa Clara,
# California."
DATE = "56be8e613aeaaa14008c90d2"  # "February 7, 2016" | "February 7"
AFC = "56be8e613aeaaa14008c90d3"  # "American Football Conference"
COLOR = "56be4db0acb8001400a502f0"  # "gold"


@pytest.mark.parametrize("qid,prediction,exact,f1", [
    (BRONCOS, "DENVER BRONCOS", 100.0, 100.0),  # lower-casing
    (BRONCOS, "Denver Broncos!!", 100.0, 100.0),  # punctuation
    (VENUE, "Levis Stadium", 100.0, 100.0),  # punctuation inside a word
    (BRONCOS, "the Denver Broncos", 100.0, 100.0),  # article "the"
    (AFC, "an American Football Conference", 100.0, 100.0),  # article "an"
    (COLOR, "a gold", 100.0, 100.0),  # article "a"
    (COLOR, "thegold", 0.0, 0.0),  # articles only as whole words
    (BRONCOS, "  Denver \t Broncos\n", 100.0, 100.0),  # whitespace
    # Max over gold answers: only the second gold matches exactly.
    (VENUE, "Levi's Stadium", 100.0, 100.0),
    # F1 vs "Santa Clara, California": P=1, R=2/3 -> 0.8 (vs the long gold
    # 4/13): the max is kept.
    (VENUE, "Santa Clara", 0.0, 80.0),
    # Repeated tokens count once per gold occurrence: vs "February 7",
    # common 2 of 3 predicted -> P=2/3, R=1 -> F1 0.8.
    (DATE, "February February 7", 0.0, 80.0),
    (BRONCOS, "Carolina Panthers", 0.0, 0.0),
])
def test_v1_rules_hand_computed(dev_v1, qid, prediction, exact, f1):
  result = squad.squad_v1_metrics(_only(dev_v1, qid), {qid: prediction})
  assert result["exact_match"] == pytest.approx(exact)
  assert result["f1"] == pytest.approx(f1)
  assert result["total"] == 1


def test_v1_missing_prediction_scores_zero(dev_v1):
  data = _only(dev_v1, BRONCOS) + _only(dev_v1, COLOR)
  result = squad.squad_v1_metrics(data, {BRONCOS: "Denver Broncos"})
  assert (result["exact_match"], result["f1"], result["total"]) == (50, 50, 2)


FRANCE = "56ddde6b9a695914005b9628"  # v2.0, gold "France"
ROLLO = "56ddde6b9a695914005b962b"  # v2.0, gold "Rollo"
NO_ANS_1 = "5ad39d53604f3c001a3fe8d2"  # v2.0, unanswerable
NO_ANS_2 = "5ad39d53604f3c001a3fe8d3"  # v2.0, unanswerable


def test_v2_no_answer_rules_hand_computed(dev_v2):
  data = [a for q in (FRANCE, ROLLO, NO_ANS_1, NO_ANS_2)
          for a in _only(dev_v2, q)]
  predictions = {FRANCE: "France", ROLLO: "", NO_ANS_1: "", NO_ANS_2: "Paris"}
  result = squad.squad_v2_metrics(data, predictions)
  # Right: FRANCE (answer), NO_ANS_1 (empty); wrong: ROLLO, NO_ANS_2.
  assert result["exact"] == result["f1"] == 50.0
  assert result["HasAns_exact"] == 50.0 and result["HasAns_total"] == 2
  assert result["NoAns_exact"] == 50.0 and result["NoAns_total"] == 2

  # Threshold search over no-answer score differences: null iff diff > t.
  # t = -1: FRANCE answered (right), the rest null: ROLLO wrong, both
  # unanswerable right -> 3/4; every other t does worse or equal.
  diffs = {FRANCE: -1.0, NO_ANS_1: 1.0, ROLLO: 2.0, NO_ANS_2: 3.0}
  non_null = {FRANCE: "France", ROLLO: "Rollo", NO_ANS_1: "a region",
              NO_ANS_2: "Paris"}
  result = squad.squad_v2_metrics(data, predictions, diffs, non_null)
  assert result["best_f1"] == result["best_exact"] == 75.0
  assert result["best_f1_thresh"] == result["best_exact_thresh"] == -1.0
  assert result["exact"] == 50.0  # The plain score is not thresholded.


def _heuristic_answers(dataset):
  """Deterministic, partly right answers: first two words of the gold."""
  preds, contexts = {}, {}
  for article in dataset:
    for paragraph in article["paragraphs"]:
      for qa in paragraph["qas"]:
        contexts[qa["id"]] = paragraph["context"]
        if qa["answers"]:
          preds[qa["id"]] = " ".join(qa["answers"][0]["text"].split()[:2])
        else:
          preds[qa["id"]] = " ".join(paragraph["context"].split()[:3])
  return preds


def test_v1_matches_official_script_on_real_dev(dev_v1):
  preds = _heuristic_answers(dev_v1)
  ours = squad.squad_v1_metrics(dev_v1, preds)
  official = squad_evaluate_v1_1.evaluate(dev_v1, preds)
  assert ours["exact_match"] == pytest.approx(100 * official["exact_match"])
  assert ours["f1"] == pytest.approx(100 * official["final_f1"])
  assert ours["total"] == 232  # tests/data/PROVENANCE.md
  assert 20 < ours["exact_match"] < ours["f1"] < 100


def test_v2_matches_official_script_on_real_dev(dev_v2):
  preds = _heuristic_answers(dev_v2)
  ours = squad.squad_v2_metrics(dev_v2, preds)
  official = squad_evaluate_v2_0.evaluate(dev_v2, preds)
  for key in ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact",
              "total"):
    assert ours[key] == pytest.approx(official[key])
  assert ours["NoAns_total"] == 78  # tests/data/PROVENANCE.md


def test_v2_best_threshold_is_the_brute_force_optimum(dev_v2):
  # One real article's first paragraphs (about 60 questions): the brute
  # force below scores the set once per candidate threshold.
  data = [dict(dev_v2[0], paragraphs=dev_v2[0]["paragraphs"][:6])]
  non_null = _heuristic_answers(data)
  qids = sorted(non_null)
  # Deterministic scores that favour "no answer" on unanswerable questions,
  # with overlap, so that the optimum is somewhere in the middle.
  has_answer = {qa["id"]: bool(qa["answers"]) for a in data
                for p in a["paragraphs"] for qa in p["qas"]}
  diffs = {q: (len(q) % 5) + (2.0 if not has_answer[q] else 0.0) - 2.5
           + 0.01 * i for i, q in enumerate(qids)}
  result = squad.squad_v2_metrics(data, non_null, diffs, non_null)

  def f1_at(t):
    preds = {q: "" if diffs[q] > t else non_null[q] for q in qids}
    return squad.squad_v2_metrics(data, preds)["f1"]

  candidates = [-np.inf] + sorted(diffs.values())
  best = max(f1_at(t) for t in candidates)
  assert result["best_f1"] == pytest.approx(best)
  assert f1_at(result["best_f1_thresh"]) == pytest.approx(best)


def test_load_dataset_errors(tmp_path):
  with pytest.raises(UserError, match="not found"):
    squad.load_dataset(str(tmp_path / "nope.json"))
  bad = tmp_path / "bad.json"
  bad.write_text("{\"data\": [")
  with pytest.raises(UserError, match="bad.json.*not valid JSON"):
    squad.load_dataset(str(bad))
  bad.write_text(json.dumps({"version": "1.1"}))
  with pytest.raises(UserError, match="no top-level 'data' list"):
    squad.load_dataset(str(bad))
