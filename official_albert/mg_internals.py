"""The two Model Garden internals we use, behind one small adapter.

Model Garden (tf-models-official 2.20) has no public way to list the
registered experiments, and keeps SQuAD's max-context rule private. Rather
than copy either, this module reads them in one place and checks, at import,
that they still have the shape we rely on: if an upgrade renames or changes
them, importing `official_albert` code that needs them fails here with one
message naming what moved (and `tests/test_mg_internals.py` fails too).

Example:

```python
from official_albert import configs  # registers the experiments
from official_albert import mg_internals
"albert/squad" in mg_internals.registered_experiments()  # True
```
"""

import inspect
from typing import Any, Callable, Dict, List, Sequence

from official.core import exp_factory
from official.nlp.data import squad_lib_sp


def _internal(module: Any, name: str) -> Any:
  """`module.name`, or a RuntimeError that names the missing internal."""
  if not hasattr(module, name):
    raise RuntimeError(
        f"Model Garden changed: {module.__name__}.{name} is gone; update "
        "official_albert/mg_internals.py for this tf-models-official")
  return getattr(module, name)


_REGISTRY: Dict[str, Any] = _internal(exp_factory, "_REGISTERED_CONFIGS")
if not isinstance(_REGISTRY, dict):
  raise RuntimeError("Model Garden changed: exp_factory._REGISTERED_CONFIGS "
                     "is no longer a dict; update official_albert/"
                     "mg_internals.py")

_CHECK_IS_MAX_CONTEXT: Callable[..., bool] = _internal(
    squad_lib_sp, "_check_is_max_context")
if list(inspect.signature(_CHECK_IS_MAX_CONTEXT).parameters) != [
    "doc_spans", "cur_span_index", "position"]:
  raise RuntimeError("Model Garden changed: the signature of "
                     "squad_lib_sp._check_is_max_context; update "
                     "official_albert/mg_internals.py")


def _flatten(registry: Dict[str, Any], prefix: str = "") -> List[str]:
  """Flattens Model Garden's nested registry ({"albert": {"squad": f}})."""
  names = []
  for key, value in registry.items():
    if isinstance(value, dict):
      names.extend(_flatten(value, f"{prefix}{key}/"))
    else:
      names.append(prefix + key)
  return names


def registered_experiments() -> List[str]:
  """The names `exp_factory.get_exp_config` accepts now, sorted.

  Returns:
    Every registered experiment name ("albert/squad", "bert/pretraining",
    ...): those of the modules imported so far.
  """
  return sorted(_flatten(_REGISTRY))


def is_max_context(windows: Sequence[Any], window_index: int,
                   position: int) -> bool:
  """Whether window `window_index` gives piece `position` its most context.

  Model Garden's (and the original BERT's) rule: of the windows holding the
  piece, the one with the largest `min(left, right) + 0.01 * length`.

  Args:
    windows: the windows, each with int `start` and `length` (in pieces).
    window_index: the window asked about.
    position: the piece, an index into the whole paragraph.

  Returns:
    True when that window is the piece's max-context window.
  """
  return _CHECK_IS_MAX_CONTEXT(windows, window_index, position)
