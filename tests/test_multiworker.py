"""Two workers on 127.0.0.1 with MultiWorkerMirroredStrategy train like one.

Two processes (TF_CONFIG, `runtime.distribution_strategy=multi_worker_mirrored`,
per-worker batch 4) and one process alone (global batch 8) take the same
LAMB steps of `task.train_step` on the same real batches: the all-reduced
update of the two halves must equal the update of the whole batch.

Run as a script, this file is one worker (see `_worker`).

Tests: `official_albert.tasks.pretraining`, `official_albert.training.trainer`.
"""

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

STEPS = 3
HEARTBEAT_MS = 300_000
REPO = pathlib.Path(__file__).resolve().parents[1]


def _worker(records: str, out: str, ports, index: int) -> None:
  """Trains STEPS steps as worker `index` of `len(ports)`; worker 0 saves."""
  os.environ["TF_CONFIG"] = json.dumps({
      "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
      "task": {"type": "worker", "index": index}})
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  import tf_keras
  from official.common import distribute_utils
  sys.path.insert(0, str(pathlib.Path(__file__).parent))
  import test_training_speed as speed
  from official_albert.tasks import pretraining as pretraining_task

  # Each worker's coordination service client must answer a heartbeat
  # every 10 s by default; on a loaded 2-core CI machine (this test beside
  # another, three TF processes) one missed it and the run aborted. The
  # strategy keeps a service configured before it (context private API).
  from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
  from tensorflow.python.eager import context
  context.context().configure_coordination_service(
      service_type="standalone", service_leader="/job:worker/replica:0/task:0",
      heartbeat_timeout_in_ms=HEARTBEAT_MS, coordinated_jobs=[
          coordination_config_pb2.CoordinatedJob(name="worker",
                                                 num_tasks=len(ports))])
  params = speed.tiny_params(records)
  params.runtime.distribution_strategy = "multi_worker_mirrored"
  strategy = distribute_utils.get_distribution_strategy(
      distribution_strategy=params.runtime.distribution_strategy,
      all_reduce_alg=params.runtime.all_reduce_alg)
  assert (context.context().coordination_service.heartbeat_timeout_in_ms
          == HEARTBEAT_MS)
  batches = speed.fixed_batches(params, STEPS)  # Global batches of 8.
  per_replica = speed.BATCH // strategy.num_replicas_in_sync
  tf_keras.utils.set_random_seed(0)  # Same initial weights in every run.
  with strategy.scope():
    task = pretraining_task.AlbertPretrainingTask(params.task)
    model = task.build_model()
    model(batches[0])
    optimizer = task.create_optimizer(speed.constant_lr("lamb"))
  initial = model.get_weights()

  @tf.function
  def step(inputs):
    strategy.run(task.train_step, args=(inputs,),
                 kwargs=dict(model=model, optimizer=optimizer))

  for batch in batches:
    def shard(ctx, batch=batch):
      start = ctx.replica_id_in_sync_group * per_replica
      return {k: v[start:start + per_replica] for k, v in batch.items()}
    step(strategy.experimental_distribute_values_from_function(shard))
  if index == 0:
    np.savez(out, initial=np.array(initial, dtype=object),
             final=np.array(model.get_weights(), dtype=object))


def _free_ports(count: int):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _start(records, out, ports, index):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
             PYTHONPATH=str(REPO))
  return subprocess.Popen(
      [sys.executable, __file__, "--records", records, "--out", str(out),
       "--ports", ",".join(map(str, ports)), "--index", str(index)],
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc):
  output, _ = proc.communicate(timeout=240)
  assert proc.returncode == 0, output[-3000:]


def test_two_workers_match_one_worker_with_the_full_batch(tmp_path):
  import test_training_speed as speed  # pylint: disable=g-import-not-at-top
  records = speed.make_records(tmp_path)
  ports = _free_ports(2)
  workers = [_start(records, tmp_path / "two.npz", ports, i) for i in (0, 1)]
  for proc in workers:
    _wait(proc)
  _wait(_start(records, tmp_path / "one.npz", _free_ports(1), 0))
  two, one = (np.load(tmp_path / f"{n}.npz", allow_pickle=True)
              for n in ("two", "one"))
  assert len(one["final"]) == len(two["final"]) > 10
  for start, a, b in zip(one["initial"], one["final"], two["initial"]):
    np.testing.assert_array_equal(b, start)  # Same initial weights.
    assert a.shape == start.shape
  assert max(np.abs(a - w).max()
             for a, w in zip(one["final"], one["initial"])) > 1e-4
  for a, b in zip(one["final"], two["final"]):
    np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


if __name__ == "__main__":
  parser = argparse.ArgumentParser()
  parser.add_argument("--records", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--ports", required=True)
  parser.add_argument("--index", type=int, required=True)
  args = parser.parse_args()
  _worker(args.records, args.out, [int(p) for p in args.ports.split(",")],
          args.index)
