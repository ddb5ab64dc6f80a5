"""Paths a user gives, local or a URL, and outputs never left half-written.

Every user-given path may be local or a URL that `tf.io.gfile` knows
(`gs://`, `s3://` with tensorflow-io, `hdfs://`, TensorFlow's in-memory
`ram://`). URLs always go through `tf.io.gfile`. The helpers here send local
paths to Python's `os` and `io` instead, which reach the same files: that
keeps TensorFlow's import (seconds) out of the data tools that never see a
URL, such as `create_pretraining_data` and its worker processes. Code that
imports TensorFlow anyway may call `tf.io.gfile` directly.
"""

import contextlib
import glob
import os
import posixpath
import shutil
import tempfile
import uuid
from typing import IO, Iterator, List, Tuple


def is_url(path: str) -> bool:
  """Whether `path` names a filesystem by scheme (`gs://b/x`), not a local path."""
  return "://" in path


def _gfile():
  """`tf.io.gfile`, imported on first use (only URLs need it here)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def open_file(path: str, mode: str = "r") -> IO:
  """Opens `path` (text modes are UTF-8); a URL through `tf.io.gfile.GFile`.

  Raises:
    FileNotFoundError / tf.errors.NotFoundError: `path` does not exist (read).
  """
  if is_url(path):
    return _gfile().GFile(path, mode)
  return open(path, mode, encoding=None if "b" in mode else "utf-8")  # pylint: disable=unspecified-encoding


def exists(path: str) -> bool:
  """Whether a file or directory `path` exists."""
  return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def isdir(path: str) -> bool:
  """Whether `path` is a directory."""
  return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def isfile(path: str) -> bool:
  """Whether `path` exists and is not a directory."""
  return exists(path) and not isdir(path)


def listdir(path: str) -> List[str]:
  """The entry names in directory `path`."""
  return _gfile().listdir(path) if is_url(path) else os.listdir(path)


def makedirs(path: str) -> None:
  """Creates directory `path` and its parents; no error if it exists."""
  if is_url(path):
    _gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def remove(path: str) -> None:
  """Removes file or directory tree `path`, if it exists."""
  if is_url(path):
    gfile = _gfile()
    if gfile.isdir(path):
      gfile.rmtree(path)
    elif gfile.exists(path):
      gfile.remove(path)
  elif os.path.isdir(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    os.remove(path)


def glob_files(pattern: str) -> List[str]:
  """The files (not directories) a glob matches, sorted."""
  if is_url(pattern):
    gfile = _gfile()
    return sorted(p for p in gfile.glob(pattern) if not gfile.isdir(p))
  return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))


def join(path: str, *names: str) -> str:
  """`os.path.join` for local paths, `/`-joined for URLs."""
  return (posixpath if is_url(path) else os.path).join(path, *names)


def dirname(path: str) -> str:
  """`os.path.dirname` for local paths, the `/`-parent for URLs."""
  return posixpath.dirname(path) if is_url(path) else os.path.dirname(path)


def _parent(path: str) -> str:
  return dirname(path.rstrip("/") if is_url(path) else os.path.abspath(path))


def copy(src: str, dst: str) -> None:
  """Copies file `src` to `dst`, either local or a URL, replacing `dst`."""
  if is_url(src) or is_url(dst):
    _gfile().copy(src, dst, overwrite=True)
  else:
    shutil.copyfile(src, dst)


def _tree_files(src: str, dst: str) -> Iterator[Tuple[str, str]]:
  """(file under directory `src`, same name under `dst`) for every file.

  Makes each directory under `dst` before its files are yielded.
  """
  src = src.rstrip("/")  # So that `folder[len(src):]` starts with "/".
  for folder, _, names in (_gfile().walk(src) if is_url(src)
                           else os.walk(src)):
    target = dst + folder[len(src):]
    makedirs(target)
    for name in names:
      yield join(folder, name), join(target, name)


def _rename_tree(src: str, dst: str) -> None:
  """Moves the files under URL directory `src` to the same names under `dst`.

  Object stores have no directory rename (and `ram://` renames only the
  directory's own entry), so each file is renamed on its own: every file
  appears whole, the directory file by file.
  """
  for old, new in _tree_files(src, dst):
    _gfile().rename(old, new, overwrite=True)


def copy_tree(src: str, dst: str) -> None:
  """Copies the files under directory `src` to the same names under `dst`.

  Either may be local or a URL (a local copy of a URL directory, say).
  """
  for old, new in _tree_files(src, dst):
    copy(old, new)


@contextlib.contextmanager
def local_directory(path: str, read: bool) -> Iterator[str]:
  """A local directory standing for directory `path`, for local-only code.

  Some libraries (keras-hub's presets) open files with Python's `open`
  only. A local `path` is yielded as it is. For a URL, a temporary local
  directory is yielded: with `read`, holding a copy of `path`'s files;
  otherwise empty, its files copied to `path` (which is created) when the
  block ends without an error. The temporary directory is removed after.
  """
  if not is_url(path):
    yield path
    return
  with tempfile.TemporaryDirectory() as tmp:
    local = os.path.join(tmp, "dir")
    if read:
      copy_tree(path, local)
    else:
      os.makedirs(local)
    yield local
    if not read:
      copy_tree(local, path)


def replace(src: str, dst: str) -> None:
  """Renames file `src` to `dst`, replacing `dst` if it exists."""
  if is_url(dst):
    _gfile().rename(src, dst, overwrite=True)
  else:
    os.replace(src, dst)


def temp_beside(path: str, suffix: str = ".tmp") -> str:
  """A new unique name in `path`'s parent directory (created if needed)."""
  parent = _parent(path)
  makedirs(parent)
  name = posixpath.basename(path.rstrip("/")) if is_url(path) else (
      os.path.basename(os.path.abspath(path)))
  return join(parent, f".{name}.{uuid.uuid4().hex[:12]}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path beside `path`; renames it to `path` on success.

  The caller writes a file, or makes a directory and writes files in it, at
  the temporary path (with `open_file`, `tf.io.gfile` or
  `tf.io.TFRecordWriter`). On success a file is renamed over `path` (atomic on
  local disks, a whole object on object stores); a local directory is renamed
  as a whole, a directory on a URL filesystem file by file. On an exception
  the temporary file or directory is removed and `path` is left untouched.

  Args:
    path: the final output path, local or a URL (`gs://bucket/out`); its
      parent directory is created if needed.
  """
  tmp = temp_beside(path)
  try:
    yield tmp
    if is_url(path) and _gfile().isdir(tmp):
      _rename_tree(tmp, path)
    else:
      replace(tmp, path)
  finally:
    remove(tmp)
