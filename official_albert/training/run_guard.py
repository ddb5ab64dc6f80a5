"""Guards for long runs: one run per model_dir, and a readable checkpoint.

Model Garden lets two `train.py` processes share a model_dir (each then
overwrites the other's checkpoints), and resumes from whatever the
`checkpoint` state file names, even a checkpoint whose data file was cut short
by a full disk or whose index was deleted: the restore then fails with a
TensorFlow traceback. `train.py` runs inside `model_dir_lock` and calls
`check_latest_checkpoint` before building the trainer.
"""

import contextlib
import json
import os
import socket
import sys
import time
from typing import Iterator, Optional

import tensorflow as tf

from official_albert import errors

LOCK_NAME = "train.lock"


def is_chief() -> bool:
  """Whether this process is the chief of a TF_CONFIG cluster (or alone).

  The chief is task "chief" 0, or "worker" 0 when the cluster has no chief
  (tf.distribute's rule). Other workers of a multi-worker run share the
  chief's model_dir and take no lock.
  """
  config = json.loads(os.environ.get("TF_CONFIG") or "{}")
  task = config.get("task") or {}
  if not task:
    return True
  chief_type = "chief" if "chief" in config.get("cluster", {}) else "worker"
  return task.get("type") == chief_type and int(task.get("index", 0)) == 0


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # exists, owned by another user
    return True
  return True


def _create_exclusively(path: str, text: str) -> bool:
  """Writes `text` to a new file `path`; False if it already exists."""
  if "://" in path:  # object stores: no O_EXCL; a narrow race remains
    if tf.io.gfile.exists(path):
      return False
    with tf.io.gfile.GFile(path, "w") as f:
      f.write(text)
    return True
  try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
  except FileExistsError:
    return False
  with os.fdopen(fd, "w") as f:
    f.write(text)
  return True


@contextlib.contextmanager
def model_dir_lock(model_dir: str) -> Iterator[str]:
  """Holds `model_dir/train.lock` (JSON: host, pid, start time) while running.

  A lock left by a process of this host that no longer exists (a run killed
  with SIGKILL) is stale: it is replaced with a warning. A lock of a live
  process, or of another host (whose processes cannot be checked), refuses
  the run. A model_dir that this call created and that is still empty at
  the end (the run stopped on bad input) is removed again.

  Yields:
    The lock file's path.

  Raises:
    errors.UserError: another run holds the lock.
  """
  created = not tf.io.gfile.exists(model_dir)
  tf.io.gfile.makedirs(model_dir)
  path = os.path.join(model_dir, LOCK_NAME)
  host = socket.gethostname()
  mine = json.dumps({"host": host, "pid": os.getpid(), "started": time.time()})
  while not _create_exclusively(path, mine):
    try:
      with tf.io.gfile.GFile(path) as f:
        owner = json.load(f)
    except (json.JSONDecodeError, tf.errors.NotFoundError):
      owner = {}  # half-written by a run killed at that moment, or just gone
    if owner.get("host") == host and not _pid_alive(int(owner.get("pid", 0))):
      print(f"warning: removing the stale lock {path} of process "
            f"{owner['pid']} on {host}, which no longer runs", file=sys.stderr)
    elif not owner and time.time() - _mtime(path) > 60:
      print(f"warning: removing the unreadable lock {path}", file=sys.stderr)
    elif not owner:
      time.sleep(0.5)  # being written now
      continue
    else:
      errors.fail(
          f"--model_dir {model_dir!r} is in use by the run of pid "
          f"{owner.get('pid')} on host {owner.get('host')} (lock {path}); "
          "wait for it, pass another --model_dir, or delete the lock if that "
          "run is gone")
    tf.io.gfile.remove(path)
  try:
    yield path
  finally:
    tf.io.gfile.remove(path)
    if created and not tf.io.gfile.listdir(model_dir):
      tf.io.gfile.rmtree(model_dir)


def _mtime(path: str) -> float:
  try:
    return tf.io.gfile.stat(path).mtime_nsec / 1e9
  except tf.errors.NotFoundError:
    return time.time()


def _unreadable(prefix: str) -> Optional[str]:
  """Why checkpoint `prefix` cannot be restored, or None if every tensor
  reads back."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError, IndexError) as e:  # IndexError:
    # a data file cut short ("Read less bytes than requested")
    return str(e).strip().splitlines()[0]
  return None


def check_latest_checkpoint(model_dir: str) -> Optional[str]:
  """Makes the newest readable checkpoint of `model_dir` the one to resume.

  Staging directories of saves cut short (`*_temp`) are removed. Every
  checkpoint the `checkpoint` state file lists, newest first, is read in
  full (index and every tensor). Unreadable ones (a truncated data file,
  a deleted index) are dropped from the state file with a warning, so that
  Model Garden resumes from the newest complete one.

  Returns:
    The checkpoint to resume from, or None when the state file lists none
    (a new run).

  Raises:
    errors.UserError: the state file lists checkpoints and none is readable
      (resuming would silently start from scratch).
  """
  # A run killed while saving leaves TF's staging directory (ckpt-N_temp);
  # the caller holds the model_dir lock, so no save is in progress.
  for staging in tf.io.gfile.glob(os.path.join(model_dir, "*_temp")):
    tf.io.gfile.rmtree(staging)
  state = tf.train.get_checkpoint_state(model_dir)
  if not state or not state.model_checkpoint_path:
    return None
  listed = list(state.all_model_checkpoint_paths) or [
      state.model_checkpoint_path]
  if state.model_checkpoint_path not in listed:
    listed.append(state.model_checkpoint_path)
  good = list(listed)
  for prefix in reversed(listed):
    reason = _unreadable(prefix)
    if reason is None:
      break
    print(f"warning: checkpoint {prefix} is unreadable ({reason}); it is "
          "skipped and training resumes from the previous one",
          file=sys.stderr)
    good.remove(prefix)
  if not good:
    errors.fail(f"no checkpoint listed in {model_dir}/checkpoint is readable "
                f"(newest: {listed[-1]}); restore the files, or move them "
                "away to train from scratch")
  if good != listed:
    tf.compat.v1.train.update_checkpoint_state(
        model_dir, good[-1], all_model_checkpoint_paths=good)
  return good[-1]
