r"""Exports an ALBERT checkpoint as a TensorFlow SavedModel.

  python -m official_albert.serving.export --input ckpt/albert_base \
      --output exported/albert_base --seq_length 128
  # A fine-tuned model directory (see below; docs/serving.md):
  python -m official_albert.serving.export --input runs/sst2 \
      --output exported/sst2

Every path may be local or a URL that `tf.io.gfile` knows (`gs://...`); the
SavedModel is written beside `--output` and then renamed into place (see
`io_utils.atomic_path`).

Signatures (all int32 ids, `[batch, seq_length]`; floats are float32):
  `encoder` (also `serving_default`): `input_word_ids`, `input_mask`,
    `input_type_ids` -> `sequence_output` `[batch, seq_length, H]`,
    `pooled_output` `[batch, H]`.
  `pretraining` (when the checkpoint has both heads): the encoder's inputs
    and `masked_lm_positions` `[batch, P]` -> `mlm_logits` `[batch, P, V]`,
    `sop_logits` `[batch, 2]`, plus the encoder's outputs.
  `text` (when a vocabulary is known): `text` string `[batch]` ->
    `[CLS] text [SEP]` ids, mask and type ids padded to `--seq_length`, and
    the encoder's outputs.
  `text_pair`: `text_a`, `text_b` -> `[CLS] a [SEP] b [SEP]`, truncated
    round-robin (the longer segment loses tokens first, as in the original
    `_truncate_seq_pair`).

A fine-tuned model directory (`train.py` with `albert/sentence_prediction`
or `albert/squad`; recognised by its `params.yaml`) is exported with its
head instead, `--seq_length` defaulting to the fine-tuning length:
  classifier: `classify` (ids) and `classify_text` (also `serving_default`;
    `text`) / `classify_text_pair` (`text_a`, `text_b`) -> `logits`
    `[batch, classes]`, `probabilities` `[batch, classes]`, int32
    `label_id` `[batch]` and string `label` `[batch]` (regression: `logits`
    `[batch, 1]` and `score` `[batch]`); the text signatures also return
    the packed ids. The label names are the variable `label_list`.
  multiple choice (`albert/race`): `multiple_choice` (also
    `serving_default`): ids `[batch, options, seq_length]` -> `logits`,
    `probabilities` `[batch, options]`, int32 `prediction` `[batch]`.
  tagger (`albert/tagging`): `tag` (also `serving_default`): ids ->
    `logits` `[batch, seq_length, tags]`, int32 `tag_id`
    `[batch, seq_length]`; the tag names are the variable `label_list`.
    Words, windows and character offsets stay in Python
    (`serving.predict tag`), around this signature.
  SQuAD: `squad` (also `serving_default`): ids -> `start_logits`,
    `end_logits` `[batch, seq_length]`. There is no text signature: a
    question's context is cut into windows (`doc_stride`) whose number
    depends on the text, and answers are mapped back to character offsets
    of the original context (`data.squad_data`); both stay in Python
    (`serving.predict qa`), around this signature.
  Both ship `assets/params.yaml` (the experiment config) and the variables
  `sequence_length` (int32) and `do_lower_case` (bool), which `serving.predict`
  reads to serve the SavedModel like the model directory.

The text signatures normalise and tokenize in the graph like
`data.tokenization.AlbertTokenizer`: whitespace collapsed, ``/'' -> ", NFKD,
combining marks (the exact code points Python's `unicodedata.combining`
flags) removed, lower-cased (`tf.strings.lower`, UTF-8), then
`tensorflow_text.SentencepieceTokenizer`, then the Python tokenizer's fix
that splits a digit piece's trailing comma ("▁9," -> "▁9", ",") as a lookup
from each such piece id to its replacement ids (a function of the piece
alone). The SentencePiece model file travels as an asset under `assets/`
(and its bytes inside the tokenizer op).

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.serving.export \
      --input /tmp/albert_example/sst2_model \
      --output /tmp/albert_example/sst2_export --seq_length 64
"""

import argparse
import functools
import json
import unicodedata
from typing import Dict, List, Optional, Sequence

import tensorflow as tf
import tensorflow_text as tf_text
from official.nlp.modeling.layers import text_layers

from official_albert import errors
from official_albert import io_utils
from official_albert.data.tokenization import AlbertTokenizer
from official_albert.interop import convert
from official_albert.interop import ours
from official_albert.modeling import albert
from official_albert.modeling import encoder_block
from official_albert.serving import finetuned
from official_albert.serving import litert

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")
ENCODER_OUTPUTS = ("sequence_output", "pooled_output")
# Python's str.split() whitespace: RE2's \s is ASCII-only, so add the rest.
_WHITESPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+"


@functools.lru_cache(maxsize=None)
def _combining_marks_pattern() -> str:
  """An RE2 class of the code points with a nonzero combining class.

  Built from Python's `unicodedata`, which `preprocess_text` uses, rather than
  RE2's `\\p{M}`, which differs (e.g. Devanagari vowel signs are marks with
  combining class 0, kept by the original).
  """
  ranges = []
  for code in range(0x110000):
    if unicodedata.combining(chr(code)):
      if ranges and ranges[-1][1] == code - 1:
        ranges[-1][1] = code
      else:
        ranges.append([code, code])
  return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges) + "]"


def normalize_text(text: tf.Tensor, lower_case: bool = True) -> tf.Tensor:
  """In-graph `tokenization.preprocess_text`.

  Args:
    text: tf.string `[batch]`, UTF-8.
    lower_case: lower-case the result.

  Returns:
    tf.string `[batch]`, normalised.
  """
  text = tf.strings.strip(tf.strings.regex_replace(text, _WHITESPACE, " "))
  text = tf.strings.regex_replace(text, "``|''", '"')
  text = tf_text.normalize_utf8(text, "NFKD")
  text = tf.strings.regex_replace(text, _combining_marks_pattern(), "")
  return tf.strings.lower(text, encoding="utf-8") if lower_case else text


class ServingModule(tf.Module):
  """What the SavedModel holds: the model, the tokenizer, the vocabulary.

  Besides the signatures, the loaded object has `max_seq_length`, an int32
  variable holding the model's `max_position_embeddings`, and TF-Hub's
  reusable-SavedModel API for the encoder
  (https://www.tensorflow.org/hub/reusable_saved_models): `__call__(inputs,
  training=False)` on the encoder's input dict, returning its outputs, and
  the lists `variables`, `trainable_variables` (the encoder's) and
  `regularization_losses` (empty), so that `hub.KerasLayer` and
  `task.hub_module_url` fine-tune it.

  Args:
    model: a built `AlbertPretrainer`.
    vocab: SentencePiece model path, or None (no text signatures).
    seq_length: length the text signatures pad and truncate to.
    lower_case: whether the text signatures lower-case (uncased models).
  """

  # Plain attributes in the SavedModel (TF-Hub's API), not tf.Module's
  # properties of the same names.
  variables = trainable_variables = None

  def __init__(self, model: albert.AlbertPretrainer, vocab: Optional[str],
               seq_length: int, lower_case: bool):
    super().__init__()
    self.model = model
    self.variables = list(model.encoder.variables)
    self.trainable_variables = list(model.encoder.trainable_variables)
    self.regularization_losses = []
    # Saved with the model so that clients (serving.predict) can truncate
    # their inputs to what the position table covers.
    self.max_seq_length = tf.Variable(
        model.encoder.get_config()["max_position_embeddings"],
        trainable=False, dtype=tf.int32)
    self.seq_length = seq_length
    self.lower_case = lower_case
    if vocab:
      tokenizer = AlbertTokenizer(vocab, lower_case)
      self.special_ids = dict(start_of_sequence_id=tokenizer.cls_id,
                              end_of_segment_id=tokenizer.sep_id,
                              padding_id=tokenizer.pad_id)
      self.vocab = tf.saved_model.Asset(vocab)
      with io_utils.open_file(vocab, "rb") as f:
        self.tokenizer = tf_text.SentencepieceTokenizer(model=f.read(),
                                                        out_type=tf.int32)
      # Row i: the ids piece i becomes (itself unless the comma fix applies).
      fixes = tokenizer.digit_comma_ids()
      rows = [fixes.get(i, [i]) for i in range(tokenizer.vocab_size)]
      self.piece_ids = tf.RaggedTensor.from_row_lengths(
          tf.constant([i for row in rows for i in row], tf.int32),
          tf.constant([len(row) for row in rows], tf.int64))

  @tf.function
  def __call__(self, inputs: Dict[str, tf.Tensor], training: bool = False
               ) -> Dict[str, tf.Tensor]:
    """TF-Hub's encoder call: int32 `[batch, seq_length]` inputs -> outputs."""
    outputs = self.model.encoder(inputs, training=training)
    return {k: outputs[k] for k in ENCODER_OUTPUTS}

  def trace_hub_call(self) -> None:
    """Traces `__call__` for both `training` values, as TF-Hub calls it."""
    specs = {name: _int_spec(name) for name in ENCODER_INPUTS}
    for training in (False, True):
      self.__call__.get_concrete_function(specs, training=training)

  def encode(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Encoder outputs for int32 `[batch, seq_length]` inputs."""
    outputs = self.model.encoder(inputs, training=False)
    return {k: outputs[k] for k in ENCODER_OUTPUTS}

  def pretrain(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Pretraining-head outputs (see the module docstring)."""
    outputs = self.model(inputs, training=False)
    return {k: outputs[k] for k in ("mlm_logits", "sop_logits") +
            ENCODER_OUTPUTS}

  def pack(self, *texts: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Normalises, tokenizes and packs one or two string `[batch]` tensors."""
    segments = [
        tf.gather(self.piece_ids, self.tokenizer.tokenize(
            normalize_text(t, self.lower_case))).merge_dims(1, 2)
        for t in texts]
    return text_layers.BertPackInputs.bert_pack_inputs(
        segments, self.seq_length, **self.special_ids)


def _int_spec(name: str) -> tf.TensorSpec:
  return tf.TensorSpec([None, None], tf.int32, name=name)


def _graph_fn(fn):
  # No tensor-dependent Python control flow here, so autograph is not needed
  # (and its source parsing is slow).
  return tf.function(fn, autograph=False)


def _string_spec(name: str) -> tf.TensorSpec:
  return tf.TensorSpec([None], tf.string, name=name)


def _head_signatures(module: ServingModule, run,
                     with_text: bool) -> Dict[str, object]:
  """`run` (int32 ids dict -> outputs) as ids, text and text-pair functions.

  Returns concrete functions keyed "ids", and with `with_text` (the module
  has a tokenizer) "text" (one string per row) and "text_pair" (two
  strings); text outputs also hold the packed ids.
  """
  @_graph_fn
  def ids(input_word_ids, input_mask, input_type_ids):
    return run(dict(input_word_ids=input_word_ids, input_mask=input_mask,
                    input_type_ids=input_type_ids))

  @_graph_fn
  def text(text):
    packed = module.pack(text)
    return dict(packed, **run(packed))

  @_graph_fn
  def text_pair(text_a, text_b):
    packed = module.pack(text_a, text_b)
    return dict(packed, **run(packed))

  result = {"ids": ids.get_concrete_function(
      **{name: _int_spec(name) for name in ENCODER_INPUTS})}
  if with_text:
    result["text"] = text.get_concrete_function(_string_spec("text"))
    result["text_pair"] = text_pair.get_concrete_function(
        _string_spec("text_a"), _string_spec("text_b"))
  return result


def signatures(module: ServingModule, with_heads: bool) -> Dict[str, object]:
  """The concrete functions to export, by signature name."""
  heads = _head_signatures(module, module.encode,
                           hasattr(module, "tokenizer"))
  result = {"encoder": heads.pop("ids")}
  result["serving_default"] = result["encoder"]
  result.update(heads)
  if with_heads:
    @_graph_fn
    def pretraining(input_word_ids, input_mask, input_type_ids,
                    masked_lm_positions):
      return module.pretrain(dict(input_word_ids=input_word_ids,
                                  input_mask=input_mask,
                                  input_type_ids=input_type_ids,
                                  masked_lm_positions=masked_lm_positions))
    result["pretraining"] = pretraining.get_concrete_function(
        masked_lm_positions=_int_spec("masked_lm_positions"),
        **{name: _int_spec(name) for name in ENCODER_INPUTS})
  return result


def _check_seq_length(model, seq_length: int) -> None:
  max_length = model.encoder.get_config()["max_position_embeddings"]
  if not 2 <= seq_length <= max_length:
    errors.fail(f"--seq_length {seq_length} must be in [2, {max_length}] "
                "(max_position_embeddings)")


def _metadata(vocab: Optional[str], **info) -> Dict[str, bytes]:
  """LiteRT metadata entries: `info` as JSON, and the vocabulary's bytes."""
  entries = {litert.INFO_METADATA: json.dumps(info).encode()}
  if vocab:
    with io_utils.open_file(vocab, "rb") as f:
      entries[litert.VOCAB_METADATA] = f.read()
  return entries


def export(model: albert.AlbertPretrainer, output: str,
           vocab: Optional[str] = None, seq_length: int = 128,
           lower_case: bool = True, with_heads: bool = True,
           litert_forms: Sequence[str] = (),
           representative_data: Optional[str] = None,
           representative_examples: int = 200) -> List[str]:
  """Writes `model` as a SavedModel directory at `output`, atomically.

  Args:
    model: a built `AlbertPretrainer` holding the weights to serve.
    output: the SavedModel directory to create.
    vocab: the SentencePiece model, for the text signatures.
    seq_length: what the text signatures pad to; at most the model's
      `max_position_embeddings`. Also the LiteRT models' fixed
      length.
    lower_case: text signatures lower-case (uncased models).
    with_heads: add the `pretraining` signature.
    litert_forms: LiteRT forms of the `encoder` signature to write beside
      the SavedModel (`litert.QUANTIZATIONS`).
    representative_data: TFRecords (`create_pretraining_data` output) to
      calibrate the `int8` form on.
    representative_examples: how many of their examples.

  Returns:
    The LiteRT paths written.

  Raises:
    errors.UserError: if `seq_length` is not in [2, max_position_embeddings],
      or `int8` is asked for without fitting `representative_data`.
  """
  _check_seq_length(model, seq_length)
  batches = None
  if litert.INT8 in litert_forms:
    if not representative_data:
      errors.fail("--litert int8 of a pretrained encoder needs "
                  "--representative_data (its TFRecords) to calibrate on")
    batches = litert.record_inputs(representative_data,
                                   representative_examples, seq_length)
  module = ServingModule(model, vocab, seq_length, lower_case)
  module.trace_hub_call()
  with io_utils.atomic_path(output) as tmp:
    tf.saved_model.save(module, tmp,
                        signatures=signatures(module, with_heads))
    return litert.export_forms(
        tmp, output, litert_forms, "encoder", [None, seq_length],
        _metadata(vocab, kind="encoder", lower_case=lower_case,
                  seq_length=seq_length), batches,
        **_int8_signature(module, litert_forms, lambda: _head_signatures(
            module, module.encode, False)["ids"])) if litert_forms else []


def _int8_signature(module: ServingModule, forms: Sequence[str], trace):
  """`export_forms`'s int8 arguments: `trace()`, an ids concrete function,
  traced with finite attention masks (`encoder_block.finite_mask`)."""
  if litert.INT8 not in forms:
    return {}
  with encoder_block.finite_mask(module.model):
    return dict(int8_signature=trace(), int8_trackable=module)


class FinetunedModule(ServingModule):
  """A fine-tuned classifier or span labeler, its vocabulary and config.

  Args:
    served: a `finetuned.Served` loaded from a model directory.
    seq_length: length the text signatures pad and truncate to.
  """

  def __init__(self, served: finetuned.Served, seq_length: int):
    super().__init__(served.model, served.vocab, seq_length,
                     served.lower_case)
    self.kind = served.kind
    self.labels = tuple(served.labels)
    self.label_list = tf.Variable(served.labels, dtype=tf.string,
                                  trainable=False)
    self.sequence_length = tf.Variable(seq_length, trainable=False)
    self.do_lower_case = tf.Variable(served.lower_case, trainable=False)
    self.params = tf.saved_model.Asset(served.params_path)

  def predict(self, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """The head's outputs (see the module docstring) for int32 ids."""
    return finetuned.head_outputs(self.kind, self.model, inputs, self.labels)


def finetuned_signatures(module: FinetunedModule, with_text: bool = True
                         ) -> Dict[str, object]:
  """The concrete functions of a fine-tuned export, by signature name
  (`with_text` False: the ids signatures only)."""
  heads = _head_signatures(module, module.predict, with_text and (
      module.kind == finetuned.CLASSIFIER))
  name = finetuned.SIGNATURES[module.kind]
  if module.kind == finetuned.MULTIPLE_CHOICE:
    # Ids [batch, options, length]: one sequence per option.
    heads["ids"] = _graph_fn(lambda **ids: module.predict(ids)
                             ).get_concrete_function(**{
                                 n: tf.TensorSpec([None, None, None],
                                                  tf.int32, name=n)
                                 for n in ENCODER_INPUTS})
  result = {name: heads["ids"], "serving_default": heads["ids"]}
  if "text" in heads:  # A classifier's.
    result["classify_text"] = heads["text"]
    result["classify_text_pair"] = heads["text_pair"]
    result["serving_default"] = result["classify_text"]
  return result


def export_finetuned(model_dir: str, output: str, vocab: Optional[str] = None,
                     seq_length: Optional[int] = None,
                     litert_forms: Sequence[str] = (),
                     representative_data: Optional[str] = None,
                     representative_examples: int = 200) -> List[str]:
  """Writes a fine-tuned model directory as a SavedModel, atomically.

  Args:
    model_dir: a `train.py` model directory of `albert/sentence_prediction`
      or `albert/squad` (its `params.yaml` and latest checkpoint are read).
    output: the SavedModel directory to create.
    vocab: SentencePiece model instead of the one recorded for the data.
    seq_length: what the text signatures pad to (default: the fine-tuning
      sequence length); at most `max_position_embeddings`. Also the LiteRT
      models' fixed length.
    litert_forms: LiteRT forms of the head's ids signature to write beside
      the SavedModel (`litert.QUANTIZATIONS`).
    representative_data: records to calibrate `int8` on instead of the
      task's `train_data` (the same task's records).
    representative_examples: how many examples to calibrate on.

  Returns:
    The LiteRT paths written.

  Raises:
    errors.UserError: see `finetuned.load`, a bad `seq_length`, and
      representative records that do not fit the model.
  """
  served = finetuned.load(model_dir, vocab)
  if served.model is None:
    errors.fail(f"{model_dir} is already a SavedModel; pass the model "
                "directory train.py wrote")
  seq_length = seq_length or served.seq_length
  _check_seq_length(served.model, seq_length)
  # Any batch, the length fixed: with a free length, some heads convert
  # to ops outside TFLite's builtins (StridedSlice with new_axis_mask,
  # Einsum).
  shape = [None, seq_length]
  if served.kind == finetuned.MULTIPLE_CHOICE:
    shape.insert(1, served.params.task.model.num_classes)
  batches = None
  if litert.INT8 in litert_forms:
    data = served.params.task.train_data
    batches = litert.representative_inputs(
        finetuned.build_task(served.kind, served.params),
        data.replace(input_path=representative_data or data.input_path),
        representative_examples, shape)
  module = FinetunedModule(served, seq_length)
  with io_utils.atomic_path(output) as tmp:
    tf.saved_model.save(module, tmp, signatures=finetuned_signatures(module))
    if not litert_forms:
      return []
    entries = _metadata(served.vocab, kind=served.kind, labels=served.labels,
                        lower_case=served.lower_case, seq_length=seq_length)
    with io_utils.open_file(served.params_path, "rb") as f:
      entries[litert.PARAMS_METADATA] = f.read()
    beam = served.kind == finetuned.SQUAD and (
        served.params.task.model.head == "beam")
    name = finetuned.SIGNATURES[served.kind]
    return litert.export_forms(
        tmp, output, litert_forms, name, shape, entries, batches,
        free_length=not beam, **_int8_signature(
            module, litert_forms,
            lambda: finetuned_signatures(module, with_text=False)[name]))


def main(argv=None) -> None:
  """Command-line entry point; see the module docstring."""
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--input", required=True,
                      help="checkpoint directory (see --format), or a "
                      "fine-tuned model directory (has params.yaml)")
  parser.add_argument("--format", default="ours",
                      choices=["ours", "hf", "tf1", "model_garden"],
                      help="checkpoint format, as in interop.convert")
  parser.add_argument("--config", help="albert_config.json for tf1 or "
                      "model_garden inputs without one beside them")
  parser.add_argument("--output", required=True,
                      help="SavedModel directory to create (must not exist)")
  parser.add_argument("--vocab", help="SentencePiece .model (default: the "
                      "checkpoint's spiece.model); enables text signatures")
  parser.add_argument("--seq_length", type=int,
                      help="length the text signatures pad to (default 128; "
                      "fine-tuned: the fine-tuning length)")
  parser.add_argument("--lower_case", action=argparse.BooleanOptionalAction,
                      default=True, help="lower-case text (uncased models)")
  parser.add_argument("--litert", default="",
                      help="also write LiteRT models beside the SavedModel, "
                      "OUTPUT.FORM.tflite, for each comma-separated FORM of "
                      f"{', '.join(litert.QUANTIZATIONS)} (or 'all'); see "
                      "docs/serving.md")
  parser.add_argument("--representative_data",
                      help="TFRecords to calibrate --litert int8 on "
                      "(default: the fine-tuned task's train_data; required "
                      "for a pretrained encoder)")
  parser.add_argument("--representative_examples", type=int, default=200,
                      help="examples to calibrate --litert int8 on")
  args = parser.parse_args(argv)
  forms = litert.parse_quantizations(args.litert) if args.litert else []
  if args.representative_examples < 1:
    errors.fail("--representative_examples must be >= 1")
  for path in [args.output] + [litert.output_path(args.output, f)
                               for f in forms]:
    convert.check_output(path, args.vocab)
  options = dict(litert_forms=forms,
                 representative_data=args.representative_data,
                 representative_examples=args.representative_examples)
  if io_utils.isfile(io_utils.join(args.input, finetuned.PARAMS_FILE)):
    paths = export_finetuned(args.input, args.output, args.vocab,
                             args.seq_length, **options)
  else:
    config, weights, vocab = convert.read(args.format, args.input,
                                          args.config)
    model = ours.build_pretrainer(config)
    items = ours.assign(model, weights, args.input)
    paths = export(model, args.output, args.vocab or vocab,
                   args.seq_length or 128, args.lower_case,
                   with_heads=set(ours.HEAD_ITEMS) <= set(items), **options)
  print(f"wrote SavedModel {args.output}")
  for path in paths:
    print(f"wrote LiteRT model {path}")


if __name__ == "__main__":
  errors.run_cli(main)
