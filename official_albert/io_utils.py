"""Output files that are never left half-written, on any filesystem.

Every user-given path may be local or a URL that `tf.io.gfile` knows
(`gs://`, `s3://` with tensorflow-io, `hdfs://`, TensorFlow's in-memory
`ram://`), so reads and writes go through `tf.io.gfile`.
"""

import contextlib
import os
import posixpath
import uuid
from typing import Iterator

import tensorflow as tf


def is_url(path: str) -> bool:
  """Whether `path` names a filesystem by scheme (`gs://b/x`), not a local path."""
  return "://" in path


def _parent(path: str) -> str:
  if is_url(path):
    return posixpath.dirname(path.rstrip("/"))
  return os.path.dirname(os.path.abspath(path))


def _rename_tree(src: str, dst: str) -> None:
  """Moves the files under directory `src` to the same names under `dst`.

  Object stores have no directory rename (and `ram://` renames only the
  directory's own entry), so each file is renamed on its own: every file
  appears whole, the directory file by file.
  """
  for folder, _, names in tf.io.gfile.walk(src):
    target = dst + folder[len(src):]
    tf.io.gfile.makedirs(target)
    for name in names:
      tf.io.gfile.rename(posixpath.join(folder, name),
                         posixpath.join(target, name), overwrite=True)


def _remove(path: str) -> None:
  if tf.io.gfile.isdir(path):
    tf.io.gfile.rmtree(path)
  elif tf.io.gfile.exists(path):
    tf.io.gfile.remove(path)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path beside `path`; renames it to `path` on success.

  The caller writes a file, or makes a directory and writes files in it, at
  the temporary path through `tf.io.gfile` (or `tf.io.TFRecordWriter`). On
  success a file is renamed over `path` (`tf.io.gfile.rename(...,
  overwrite=True)`: atomic on local disks, a whole object on object stores);
  a local directory is renamed as a whole, a directory on a URL filesystem
  file by file. On an exception the temporary file or directory is removed
  and `path` is left untouched.

  Args:
    path: the final output path, local or a URL (`gs://bucket/out`); its
      parent directory is created if needed.
  """
  parent = _parent(path)
  tf.io.gfile.makedirs(parent)
  name = posixpath.basename(path.rstrip("/")) if is_url(path) else (
      os.path.basename(os.path.abspath(path)))
  tmp = (posixpath if is_url(path) else os.path).join(
      parent, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
  try:
    yield tmp
    if is_url(path) and tf.io.gfile.isdir(tmp):
      _rename_tree(tmp, path)
    else:
      tf.io.gfile.rename(tmp, path, overwrite=True)
  finally:
    _remove(tmp)
