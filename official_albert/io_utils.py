"""Output files that are never left half-written."""

import contextlib
import os
import shutil
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path next to `path`; renames it to `path` on success.

  Works for a file or a directory written at the temporary path. On an
  exception the temporary file or directory is removed and `path` is left
  untouched.

  Args:
    path: the final output path; its parent directory is created if needed.
  """
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                             suffix=".tmp", dir=parent)
  os.close(fd)
  os.remove(tmp)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.isdir(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
    elif os.path.exists(tmp):
      os.remove(tmp)
