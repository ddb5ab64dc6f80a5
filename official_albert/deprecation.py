"""Old `python -m` paths of moved commands, kept for one release.

A moved command leaves a small package at its old path: its `__main__`
prints one line naming the new path on stderr and runs the new command,
and its `__init__` forwards attribute access to the new module, so old
imports keep working too.

Example:

```python
# official_albert/data/train_vocab/__main__.py
from official_albert import deprecation
deprecation.run_moved("official_albert.data.train_vocab",
                      "official_albert.data.pretraining.train_vocab")
```
"""

import importlib
import sys
from typing import Any, Callable, Optional


def notice(old: str, new: str) -> str:
  """The one-line deprecation notice for `python -m old`."""
  return (f"note: `python -m {old}` is deprecated and will be removed in the "
          f"next release; use `python -m {new}`")


def run_moved(old: str, new: str, command: Optional[str] = None) -> None:
  """Prints the notice on stderr, then runs `new`'s `main()`.

  Args:
    old: the deprecated module path.
    new: the module that now holds the command (it has a `main()` that reads
      `sys.argv`).
    command: the new `python -m` path, when it is not `new` (a package whose
      `__main__` runs `new`).
  """
  print(notice(old, command or new), file=sys.stderr, flush=True)
  importlib.import_module(new).main()


def forward(new: str) -> Callable[[str], Any]:
  """A module `__getattr__` that reads names from module `new`."""

  def __getattr__(name: str) -> Any:  # pylint: disable=invalid-name
    if name.startswith("__"):
      raise AttributeError(name)
    return getattr(importlib.import_module(new), name)

  return __getattr__
