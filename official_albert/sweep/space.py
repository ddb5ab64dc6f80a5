"""The search space of a sweep: `--grid` and `--search` over config keys.

  --grid   trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate=1e-5,2e-5,5e-5
  --search task.model.dropout_rate=uniform:0.0:0.2
  --search ...initial_learning_rate=loguniform:1e-5:1e-4
  --search trainer.train_steps=int:500:2000
  --search task.model.encoder.hidden_act=choice:gelu,relu

Values are read like `--params_override` values (`overrides.safe_load`, so
`5e-5` is a float) and checked against the experiment's config before any
trial runs: an unknown key, a value of the wrong type or a malformed range is
a `UserError`. Each dimension becomes an Optuna distribution; a trial's
values become a nested override mapping.
"""

import dataclasses
import math
from typing import Any, Dict, List, Sequence, Tuple

import optuna
from official.core import config_definitions as cfg

from official_albert import errors
from official_albert.configs import overrides

KINDS = ("grid", "loguniform", "uniform", "int", "choice")
# Keys the sweep sets itself.
RESERVED = {"task.seed": "--seeds"}


@dataclasses.dataclass(frozen=True)
class Dimension:
  """One swept config key.

  Attributes:
    key: the dotted config key, e.g. "task.model.dropout_rate".
    kind: one of `KINDS`.
    values: the values of "grid" and "choice".
    low, high: the bounds of "loguniform", "uniform" (floats) and "int".
  """
  key: str
  kind: str
  values: Tuple[Any, ...] = ()
  low: float = 0.0
  high: float = 0.0

  def distribution(self) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution this dimension samples from."""
    if self.kind in ("grid", "choice"):
      return optuna.distributions.CategoricalDistribution(self.values)
    if self.kind == "int":
      return optuna.distributions.IntDistribution(int(self.low),
                                                  int(self.high))
    return optuna.distributions.FloatDistribution(
        self.low, self.high, log=self.kind == "loguniform")

  @property
  def log_scale(self) -> bool:
    """Whether plots should use a log axis for this key."""
    if self.kind == "loguniform":
      return True
    numbers = [v for v in self.values
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return (len(numbers) == len(self.values) > 1 and min(numbers) > 0
            and max(numbers) / min(numbers) >= 10)


def nested(key: str, value: Any) -> Dict[str, Any]:
  """`nested("a.b.c", 1)` -> `{"a": {"b": {"c": 1}}}`."""
  for part in reversed(key.split(".")):
    value = {part: value}
  return value


def merge(base: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
  """A deep copy of `base` with `extra` merged in (`extra` wins)."""
  out = dict(base)
  for key, value in extra.items():
    if isinstance(value, dict) and isinstance(out.get(key), dict):
      out[key] = merge(out[key], value)
    else:
      out[key] = value
  return out


def _split(flag: str, text: str) -> Tuple[str, str]:
  key, sep, rest = text.partition("=")
  if not sep or not key.strip() or not rest.strip():
    errors.fail(f"malformed {flag} {text!r}; write {flag} KEY=VALUES, e.g. "
                f"{flag} task.model.dropout_rate=0.0,0.1")
  key = key.strip()
  if key in RESERVED:
    errors.fail(f"{flag} {key}: the sweep sets {key} itself; use "
                f"{RESERVED[key]} instead")
  return key, rest.strip()


def _value(flag: str, key: str, text: str) -> Any:
  try:
    value = overrides.safe_load(text)
  except Exception:  # pylint: disable=broad-except  # Any YAML error.
    value = None
  if value is None or isinstance(value, (dict, list)):
    errors.fail(f"malformed value {text!r} in {flag} {key}; give numbers, "
                "true/false or words separated by commas")
  return value


def _number(flag: str, key: str, text: str, kind: str) -> float:
  value = _value(flag, key, text)
  ok = (isinstance(value, int) if kind == "int"
        else isinstance(value, (int, float)))
  if isinstance(value, bool) or not ok or not math.isfinite(value):
    what = "an integer" if kind == "int" else "a number"
    errors.fail(f"malformed range in {flag} {key}: {text!r} is not {what}; "
                f"write {key}={kind}:LOW:HIGH")
  return value


def parse_grid(text: str) -> Dimension:
  """Parses `KEY=v1,v2,...` (at least one value, no duplicates)."""
  key, rest = _split("--grid", text)
  values = tuple(_value("--grid", key, v.strip()) for v in rest.split(","))
  if len(set(map(repr, values))) != len(values):
    errors.fail(f"--grid {key} lists a value twice: {rest!r}")
  return Dimension(key, "grid", values=values)


def parse_search(text: str) -> Dimension:
  """Parses `KEY=loguniform:LOW:HIGH`, `uniform:`, `int:` or `choice:a,b`."""
  key, rest = _split("--search", text)
  kind, _, spec = rest.partition(":")
  if kind not in KINDS[1:]:
    errors.fail(f"malformed --search {text!r}: unknown distribution {kind!r}; "
                "use loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or "
                "choice:A,B,...")
  if kind == "choice":
    values = tuple(_value("--search", key, v.strip())
                   for v in spec.split(",") if v.strip())
    if len(values) < 2:
      errors.fail(f"malformed --search {text!r}: choice needs two or more "
                  "values, e.g. choice:gelu,relu")
    return Dimension(key, kind, values=values)
  bounds = spec.split(":")
  if len(bounds) != 2:
    errors.fail(f"malformed range in --search {text!r}; write "
                f"{key}={kind}:LOW:HIGH")
  low, high = (_number("--search", key, b, kind) for b in bounds)
  if not low < high or (kind == "loguniform" and low <= 0):
    need = "0 < LOW < HIGH" if kind == "loguniform" else "LOW < HIGH"
    errors.fail(f"malformed range in --search {text!r}: need {need}")
  return Dimension(key, kind, low=low, high=high)


def check(dimensions: Sequence[Dimension], params: cfg.ExperimentConfig
          ) -> None:
  """Checks every key and every value (or bound) against the config.

  Raises:
    UserError: on a key swept twice, an unknown key or a value of the wrong
      type (naming the key and the type it expects).
  """
  keys = [d.key for d in dimensions]
  for key in keys:
    if keys.count(key) > 1:
      errors.fail(f"config key {key!r} is swept twice; give it once")
  for d in dimensions:
    flag = "--grid" if d.kind == "grid" else "--search"
    samples = d.values or ((int(d.low), int(d.high)) if d.kind == "int"
                           else (float(d.low), float(d.high)))
    for value in samples:
      overrides.check_override(params, nested(d.key, value),
                               f"{flag} {d.key}")


def point_override(dimensions: Sequence[Dimension],
                   values: Dict[str, Any]) -> Dict[str, Any]:
  """The nested override mapping of one point (`{key: value}`)."""
  out = {}
  for d in dimensions:
    out = merge(out, nested(d.key, values[d.key]))
  return out


def grid_size(dimensions: Sequence[Dimension]) -> int:
  """Number of points of a grid (product of the value counts)."""
  return math.prod(len(d.values) for d in dimensions)


def describe(dimensions: Sequence[Dimension]) -> List[str]:
  """One line per dimension, for the report."""
  lines = []
  for d in dimensions:
    if d.kind in ("grid", "choice"):
      lines.append(f"{d.key} = {', '.join(map(str, d.values))} ({d.kind})")
    else:
      lines.append(f"{d.key} = {d.kind}({d.low:g}, {d.high:g})")
  return lines
