"""A tiny SST-2 fine-tuning run on the bundled slice (tests/data/glue/SST-2).

Records are made by our CLI with the demo vocabulary (assets/vocab); the
config is a tiny ALBERT (H=32, 2 layers) that trains a few steps on a CPU in
seconds. Used by the seeding and sweep tests, which start `train.py` as a
subprocess exactly as users do.
"""

import pathlib
import shutil
from typing import List

from official_albert.data.finetuning import create_finetuning_data

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"


def make_records(test_data: pathlib.Path, root: pathlib.Path) -> pathlib.Path:
  """Converts the bundled SST-2 slice (400 train, 200 dev rows) to records.

  Returns:
    The directory with `train.tfrecord`, `dev.tfrecord`, `metadata.json`.
  """
  src = root / "sst2_src"
  src.mkdir(parents=True)
  shutil.copy(test_data / "glue/SST-2/train.tsv", src / "train.tsv")
  shutil.copy(test_data / "glue/SST-2/dev.tsv", src / "dev.tsv")
  out = root / "sst2_records"
  create_finetuning_data.main([
      "--task", "sst-2", "--input_dir", str(src), "--sp_model_file",
      str(VOCAB), "--output_dir", str(out), "--max_seq_length", "64"])
  return out


def config_files(records: pathlib.Path, root: pathlib.Path,
                 train_steps: int = 8) -> List[str]:
  """`--config_file`s of the tiny run: CPU runtime, then model, data, steps."""
  path = root / "tiny_sst2.yaml"
  path.write_text(
      "task:\n  metric_type: accuracy\n"
      "  model:\n    num_classes: 2\n    encoder:\n"
      "      vocab_size: 8000\n      embedding_size: 16\n"
      "      hidden_size: 32\n      num_hidden_layers: 2\n"
      "      num_attention_heads: 2\n      intermediate_size: 64\n"
      "      hidden_dropout_prob: 0.1\n"
      "      attention_probs_dropout_prob: 0.1\n"
      f"  train_data: {{input_path: {records}/train.tfrecord, "
      "global_batch_size: 16, seq_length: 64}\n"
      f"  validation_data: {{input_path: {records}/dev.tfrecord, "
      "global_batch_size: 100, seq_length: 64}\n"
      f"trainer:\n  train_steps: {train_steps}\n"
      f"  steps_per_loop: {train_steps // 2}\n"
      f"  summary_interval: {train_steps // 2}\n"
      f"  checkpoint_interval: {train_steps // 2}\n"
      f"  validation_interval: {train_steps // 2}\n"
      "  optimizer_config:\n    learning_rate:\n"
      f"      polynomial: {{initial_learning_rate: 1e-3, decay_steps: "
      f"{train_steps}}}\n"
      "    warmup:\n      linear: {warmup_steps: 1}\n")
  return [str(REPO / "configs/runtime/cpu.yaml"), str(path)]
