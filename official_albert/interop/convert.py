r"""Converts ALBERT checkpoints: ours, HuggingFace, TF1, Model Garden, keras-hub.

  python -m official_albert.interop.convert --from hf --to ours \
      --input albert-base-v2/ --output ckpt/albert_base

Formats (each a directory; see the module of each):
  ours          tf.train.Checkpoint of AlbertPretrainer.checkpoint_items +
                albert_config.json + spiece.model (what `init_checkpoint` loads)
  hf            config.json + model.safetensors (or pytorch_model.bin) +
                spiece.model, for transformers' Albert* classes
  tf1           original release: model.ckpt* with the original variable names
                + albert_config.json + *.model
  model_garden  tf.train.Checkpoint(encoder=official.nlp.modeling.networks.
                AlbertEncoder) + albert_config.json (encoder only, 1 group)
  keras_hub     a keras-hub AlbertBackbone preset (save_to_preset: config.json,
                model.weights.h5, tokenizer with assets/tokenizer/
                vocabulary.spm); encoder only (see interop/kerashub.py)

The SQuAD 2.0 beam head (the original `run_squad_v2.py`'s) converts too, see
`interop/squad_v2_head.py`: `--from tf1 --to ours` on a checkpoint that has
it writes a fine-tuned model directory (what `train.py --experiment=
albert/squad` with `task.model.head=beam` writes), and `--from ours --to
tf1` on such a directory writes the head under the original names.

Every input is checked against its config: missing, unexpected or mis-shaped
variables are reported by name and nothing is written.

Every path (--input, --output, --config, --vocab) may be local or a URL that
`tf.io.gfile` knows (`gs://`, `s3://` with tensorflow-io, `ram://`). The
output is written to a temporary directory beside it, then renamed: locally
in one step; on an object store, where directories cannot be renamed, file
by file, so each file appears whole and a reader that sees the directory may
still miss files for a moment.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.interop.convert --from ours --to hf \
      --input /tmp/albert_example/pretrain --output /tmp/albert_example/hf
"""

import argparse
from typing import Optional, Tuple

from official_albert import errors
from official_albert import io_utils
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.interop import hf
from official_albert.interop import kerashub
from official_albert.interop import layout
from official_albert.interop import model_garden
from official_albert.interop import ours
from official_albert.interop import squad_v2_head
from official_albert.interop import tf1

_READERS = {
    "ours": lambda path, config: ours.load(path),
    "hf": lambda path, config: hf.load(path),
    "tf1": tf1.load,
    "model_garden": model_garden.load,
    "keras_hub": lambda path, config: kerashub.load(path),
}
_WRITERS = {"ours": ours.save, "hf": hf.save, "tf1": tf1.save,
            "model_garden": model_garden.save, "keras_hub": kerashub.save}
# Formats whose directory carries no config of ours, so --config may say it.
_CONFIG_FROM_FLAG = ("tf1", "model_garden")


def check_output(output_path: str, vocab: Optional[str]) -> None:
  """Fails early, before any work, on an existing output or missing vocab.

  Raises:
    errors.UserError: if `output_path` exists or `vocab` is given and absent.
  """
  if io_utils.exists(output_path):
    errors.fail(f"output {output_path} already exists; remove it or choose "
                "another --output")
  if vocab and not io_utils.isfile(vocab):
    errors.fail(f"vocabulary {vocab} not found; pass a SentencePiece .model")


def read(source: str, input_path: str, config_path: Optional[str] = None
         ) -> Tuple[AlbertEncoderConfig, layout.Weights, Optional[str]]:
  """Reads a checkpoint in format `source` (see the module docstring).

  Args:
    source: "ours", "hf", "tf1", "model_garden" or "keras_hub".
    input_path: the input directory (or, for tf1 and model_garden, a
      checkpoint prefix).
    config_path: an `albert_config.json` for tf1 / model_garden inputs that
      have none beside them.

  Returns:
    (config, weights in the interchange layout, vocabulary path or None).

  Raises:
    errors.UserError: on a missing input, a --config given for a format that
      carries its own, or weights that do not match the config.
  """
  if not io_utils.exists(input_path) and not io_utils.exists(
      input_path + ".index"):
    errors.fail(f"input {input_path} not found; pass an existing "
                f"{source} checkpoint directory with --input")
  if config_path and source not in _CONFIG_FROM_FLAG:
    errors.fail(f"--config is only used with --from tf1 or model_garden; a "
                f"{source} directory carries its own config")
  return _READERS[source](input_path, config_path)


def convert(source: str, target: str, input_path: str, output_path: str,
            config_path: Optional[str] = None,
            vocab: Optional[str] = None) -> None:
  """Reads `input_path` in format `source`, writes `output_path` as `target`.

  Args:
    source, target: "ours", "hf", "tf1", "model_garden" or "keras_hub".
    input_path: the input directory (or, for tf1 and model_garden, a
      checkpoint prefix).
    output_path: the output directory; must not exist yet.
    config_path: an `albert_config.json` for tf1 / model_garden inputs that
      have none beside them.
    vocab: a SentencePiece model to ship instead of the input's own.

  A fine-tuned SQuAD 2.0 beam model directory (`--from ours`) and a
  `run_squad_v2.py` checkpoint (`--from tf1`) go through `squad_v2_head`
  (see the module docstring).

  Raises:
    errors.UserError: on a missing input, an existing output, a config or
      vocabulary that does not exist or does not fit, a mismatch between
      the weights and the config, or a fine-tuned input with another target
      than its pair (ours <-> tf1).
  """
  check_output(output_path, vocab)
  if source == "ours" and squad_v2_head.is_squad_model_dir(input_path):
    if target != "tf1":
      errors.fail(f"{input_path} is a fine-tuned SQuAD model directory; it "
                  "converts only --to tf1 (the SQuAD 2.0 beam head's "
                  "original names)")
    squad_v2_head.finetuned_to_tf1(input_path, output_path, vocab)
    return
  exists = io_utils.exists(input_path) or io_utils.exists(
      input_path + ".index")
  if source == "tf1" and exists and squad_v2_head.has_head(input_path):
    if target != "ours":
      errors.fail(f"{input_path} is a run_squad_v2.py checkpoint (it has the "
                  "SQuAD 2.0 head); convert it --to ours, which writes a "
                  "fine-tuned model directory")
    squad_v2_head.tf1_to_finetuned(input_path, output_path, config_path,
                                   vocab)
    return
  config, weights, input_vocab = read(source, input_path, config_path)
  _WRITERS[target](output_path, config, weights, vocab or input_vocab)


def main(argv=None) -> None:
  """Command-line entry point; see the module docstring."""
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--from", dest="source", required=True,
                      choices=sorted(_READERS))
  parser.add_argument("--to", dest="target", required=True,
                      choices=sorted(_WRITERS))
  parser.add_argument("--input", required=True,
                      help="input directory or checkpoint prefix")
  parser.add_argument("--output", required=True,
                      help="output directory (must not exist)")
  parser.add_argument("--config", help="albert_config.json for --from tf1 "
                      "or model_garden (default: the one beside the input)")
  parser.add_argument("--vocab", help="SentencePiece .model to ship instead "
                      "of the input's")
  args = parser.parse_args(argv)
  convert(args.source, args.target, args.input, args.output, args.config,
          args.vocab)
  print(f"wrote {args.target} checkpoint {args.output}")


if __name__ == "__main__":
  errors.run_cli(main)
