r"""Batch prediction with an ALBERT checkpoint or SavedModel.

  python -m official_albert.serving.predict fill-mask \
      --model ckpt/albert_base --input masked.txt --output predictions.jsonl

`fill-mask`: each non-blank input line is a text with one or more `[MASK]`
markers. The text between markers is tokenized with `AlbertTokenizer`, each
marker becomes the `[MASK]` id, the sequence is `[CLS] ... [SEP]`, and the
MLM head scores every masked position. One JSON line per input line:

  {"line": 1, "text": "...", "masks": [{"position": 4, "predictions":
   [{"token": "▁paris", "id": 1201, "probability": 0.31}, ...]}, ...]}

(`position` indexes the token sequence, `[CLS]` = 0; probabilities are the
softmax over the whole vocabulary.) `--model` is either a checkpoint directory
(`--format ours|hf|tf1|model_garden`, as in `interop.convert`) with an MLM
head, or a SavedModel from `serving.export` with a `pretraining` signature.

`classify`: a fine-tuned `albert/sentence_prediction` model directory (or
its SavedModel from `serving.export`) labels each text of a `.txt` file (one
per line) or each row of a `.tsv` / `.csv` table (`--text_column`, and
`--text_b_column` for pair tasks):

  {"line": 2, "label": "1", "probabilities": {"0": 0.12, "1": 0.88}}

(`line` is the 1-based line in the file; regression models give `score`.)

`qa`: a fine-tuned `albert/squad` model answers each line of a JSONL file
(`question`, `context`, optional `id`) with the evaluation's own windowing
and span decoding (see `serving.qa`):

  {"id": "q1", "answer": "Denver Broncos", "start": 177, "score": 9.1,
   "probability": 0.83}

(`start` is the answer's character offset in the context.)

`multiple-choice`: a fine-tuned `albert/race` model picks an option for each
question of a JSONL file (`context`, `question`, `options`, optional `id`;
`label` is not needed) or CSV (`context`, `question`, `option_*` columns),
encoded as its training records were (see `serving.choice`):

  {"id": "q1", "prediction": "B", "index": 1,
   "probabilities": [0.1, 0.7, 0.1, 0.1]}

`tag`: a fine-tuned `albert/tagging` model tags each line of a text file
(words split at whitespace) and gives the entities as character offsets
into the line (see `serving.tag`):

  {"line": 1, "words": [...], "tags": ["B-PER", "I-PER", "O", ...],
   "entities": [{"type": "PER", "start": 0, "end": 12, "text": "Steve Jobs"}]}

Every command writes its JSONL atomically. `--model`, `--input`,
`--output` and `--vocab` may be local paths or URLs (`gs://...`).

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.serving.predict classify \
      --model /tmp/albert_example/sst2_export \
      --input tests/data/glue/SST-2/test.tsv \
      --output /tmp/albert_example/sst2_predictions.jsonl
"""

import argparse
import json
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from official_albert import errors
from official_albert import io_utils
from official_albert.data.tokenization import MASK
from official_albert.data.tokenization import AlbertTokenizer
from official_albert.interop import convert
from official_albert.interop import layout
from official_albert.interop import ours
from official_albert.data.finetuning import multiple_choice_data
from official_albert.serving import choice
from official_albert.serving import classify
from official_albert.serving import finetuned
from official_albert.serving import litert
from official_albert.serving import qa
from official_albert.serving import tag

# inputs (int32 arrays) -> mlm_logits [batch, predictions, vocab].
MlmFn = Callable[[Dict[str, np.ndarray]], np.ndarray]


def encode_masked(tokenizer: AlbertTokenizer, text: str,
                  seq_length: int) -> List[int]:
  """`[CLS] text [SEP]` ids with each `[MASK]` marker as the mask id.

  Raises:
    ValueError: if the text has no `[MASK]`, or a mask falls beyond
      `seq_length` (the caller names the line).
  """
  parts = text.split(MASK)
  if len(parts) < 2:
    raise ValueError(f"has no {MASK}")
  ids = [tokenizer.cls_id]
  for i, part in enumerate(parts):
    if i:
      ids.append(tokenizer.mask_id)
    ids.extend(tokenizer.encode(part))
  ids = ids[:seq_length - 1] + [tokenizer.sep_id]
  if ids.count(tokenizer.mask_id) < len(parts) - 1:
    raise ValueError(f"has a {MASK} beyond --seq_length {seq_length}")
  return ids


def batch_inputs(sequences: Sequence[List[int]], pad_id: int,
                 mask_id: int) -> Dict[str, np.ndarray]:
  """Pads id lists into int32 model inputs plus `masked_lm_positions`.

  Returns:
    `input_word_ids`, `input_mask`, `input_type_ids` `[batch, longest]` and
    `masked_lm_positions` `[batch, most masks]` (padded with 0).
  """
  masks = [[i for i, t in enumerate(s) if t == mask_id] for s in sequences]
  positions = np.zeros((len(sequences), max(len(m) for m in masks)), np.int32)
  for row, pos in enumerate(masks):
    positions[row, :len(pos)] = pos
  return dict(finetuned.pad_batch(
      [dict(input_ids=s, segment_ids=[0] * len(s)) for s in sequences],
      pad_id), masked_lm_positions=positions)


def load_mlm(model_path: str, fmt: str, config_path: Optional[str] = None):
  """Loads a model directory for fill-mask.

  Returns:
    (MLM function, the longest sequence the model accepts
    (`max_position_embeddings`), vocabulary path or None).

  Raises:
    errors.UserError: if the model is missing or has no MLM head.
  """
  if model_path.endswith(litert.SUFFIX):
    errors.fail(f"{model_path} is a LiteRT model, which holds the encoder or "
                "a fine-tuned head but not the MLM head; fill-mask needs a "
                "checkpoint or a SavedModel with a `pretraining` signature")
  if io_utils.isfile(io_utils.join(model_path, "saved_model.pb")):
    saved = tf.saved_model.load(model_path)
    if "pretraining" not in saved.signatures:
      errors.fail(f"SavedModel {model_path} has no `pretraining` signature; "
                  "export a checkpoint that has the MLM head")
    signature = saved.signatures["pretraining"]
    vocabs = io_utils.glob_files(io_utils.join(model_path, "assets",
                                                "*.model"))
    return (lambda inputs: signature(**{k: tf.constant(v) for k, v in
                                        inputs.items()})["mlm_logits"].numpy(),
            int(saved.max_seq_length.numpy()),
            vocabs[0] if len(vocabs) == 1 else None)
  config, weights, vocab = convert.read(fmt, model_path, config_path)
  if not any(layout.head_of(n) == layout.MLM_PREFIX for n in weights):
    errors.fail(f"{model_path} has no MLM head (cls/predictions); fill-mask "
                "needs a pretraining checkpoint")
  model = ours.build_pretrainer(config)
  ours.assign(model, weights, model_path)
  predict = tf.function(lambda inputs: model(inputs, training=False)[
      "mlm_logits"], autograph=False, reduce_retracing=True)
  return (lambda inputs: predict(inputs).numpy(),
          config.max_position_embeddings, vocab)


def fill_mask(mlm: MlmFn, tokenizer: AlbertTokenizer, texts: Sequence[str],
              top_k: int, batch_size: int, seq_length: int) -> List[Dict]:
  """Top-k predictions for every `[MASK]` of every non-blank text.

  Args:
    mlm: see `MlmFn`.
    tokenizer: the model's vocabulary.
    texts: input lines (blank ones are skipped; numbering counts them).
    top_k: predictions per mask.
    batch_size: texts per model call.
    seq_length: longest token sequence, `[CLS]`/`[SEP]` included.

  Returns:
    One record per non-blank line (see the module docstring).

  Raises:
    errors.UserError: naming the first line without a `[MASK]` or with one
      beyond `seq_length`, or if the vocabulary's size is not the model's.
  """
  lines = [(n, t) for n, t in enumerate(texts, 1) if t.strip()]
  encoded = []
  for number, text in lines:
    try:
      encoded.append(encode_masked(tokenizer, text, seq_length))
    except ValueError as e:
      errors.fail(f"input line {number} {e}; mark the words to predict "
                  f"with {MASK}")
  records = []
  for start in finetuned.batch_starts(len(lines), batch_size, "fill-mask"):
    chunk = encoded[start:start + batch_size]
    inputs = batch_inputs(chunk, tokenizer.pad_id, tokenizer.mask_id)
    probs = tf.nn.softmax(mlm(inputs)).numpy()
    if probs.shape[-1] != tokenizer.vocab_size:
      errors.fail(f"the vocabulary has {tokenizer.vocab_size} pieces but the "
                  f"model scores {probs.shape[-1]}; pass the model's own "
                  "--vocab")
    for row, (number, text) in enumerate(lines[start:start + batch_size]):
      masks = []
      for slot, position in enumerate(
          i for i, t in enumerate(chunk[row]) if t == tokenizer.mask_id):
        best = np.argsort(-probs[row, slot])[:top_k]
        masks.append(dict(position=position, predictions=[
            dict(token=tokenizer.sp.id_to_piece(int(i)), id=int(i),
                 probability=float(probs[row, slot, i])) for i in best]))
      records.append(dict(line=number, text=text, masks=masks))
  return records


def _write_jsonl(path: str, records: Sequence[Dict]) -> None:
  with io_utils.atomic_path(path) as tmp:
    with io_utils.open_file(tmp, "w") as f:
      for record in records:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
  print(f"wrote {len(records)} predictions to {path}")


def _read_lines(path: str) -> List[str]:
  """The lines of text file `path` (local or a URL).

  Raises:
    UserError: `path` is missing or a directory.
  """
  if not io_utils.exists(path) or io_utils.isdir(path):
    errors.fail(f"--input {path} not found; pass a text file")
  with io_utils.open_file(path) as f:
    return f.read().splitlines()


def _fill_mask_command(args) -> None:
  texts = _read_lines(args.input)
  if not any(t.strip() for t in texts):
    errors.fail(f"--input {args.input} is empty; write one text with "
                f"{MASK} per line")
  if args.top_k < 1 or args.seq_length < 3:
    errors.fail("--top_k must be >= 1 and --seq_length >= 3")
  if not io_utils.exists(args.model):
    errors.fail(f"--model {args.model} not found; pass a checkpoint or "
                "SavedModel directory")
  mlm, max_length, vocab = load_mlm(args.model, args.format, args.config)
  vocab = args.vocab or vocab
  if not vocab:
    errors.fail(f"{args.model} ships no vocabulary; pass --vocab "
                "spiece.model")
  _write_jsonl(args.output, fill_mask(
      mlm, AlbertTokenizer(vocab), texts, args.top_k, args.batch_size,
      min(args.seq_length, max_length)))


def _classify_command(args) -> None:
  examples = classify.read_texts(args.input, args.text_column,
                                 args.text_b_column)
  served = finetuned.load(args.model, args.vocab, args.num_threads)
  seq_length = args.seq_length or served.seq_length
  if seq_length < 3:
    errors.fail(f"--seq_length {seq_length} is too short; use at least 3")
  if (isinstance(served.predict, litert.LiteRTModel)
      and seq_length > served.seq_length):
    errors.fail(f"--seq_length {seq_length} is longer than the LiteRT "
                f"model's longest input, {served.seq_length}; pass at most "
                f"{served.seq_length} or export with a longer --seq_length")
  _write_jsonl(args.output, classify.classify(served, examples,
                                              args.batch_size, seq_length))


def _qa_command(args) -> None:
  examples = qa.read_questions(args.input)
  served = finetuned.load(args.model, args.vocab, args.num_threads)
  _write_jsonl(args.output, qa.answer(served, examples, args.batch_size))


def _multiple_choice_command(args) -> None:
  questions = multiple_choice_data.read_table(args.input, labelled=False)
  served = finetuned.load(args.model, args.vocab, args.num_threads)
  _write_jsonl(args.output, choice.choose(served, questions, args.batch_size))


def _tag_command(args) -> None:
  lines = _read_lines(args.input)
  if not any(line.strip() for line in lines):
    errors.fail(f"--input {args.input} is empty; write one text per line")
  served = finetuned.load(args.model, args.vocab, args.num_threads)
  _write_jsonl(args.output, tag.tag_lines(served, lines, args.batch_size))


def main(argv=None) -> None:
  """Command-line entry point; see the module docstring."""
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)
  fill = commands.add_parser("fill-mask", help="top-k pieces for [MASK]s")
  fill.add_argument("--format", default="ours",
                    choices=["ours", "hf", "tf1", "model_garden"],
                    help="checkpoint format (ignored for a SavedModel)")
  fill.add_argument("--config", help="albert_config.json for tf1 inputs")
  fill.add_argument("--top_k", type=int, default=5)
  fill.add_argument("--seq_length", type=int, default=128,
                    help="truncate longer texts (capped at the model's "
                    "max_position_embeddings)")
  fill.set_defaults(run=_fill_mask_command)
  classify_parser = commands.add_parser(
      "classify", help="label texts with a fine-tuned classifier")
  classify_parser.add_argument(
      "--text_column", default="sentence",
      help="table column of the (first) text (.tsv/.csv input)")
  classify_parser.add_argument("--text_b_column",
                               help="table column of the second text")
  classify_parser.add_argument(
      "--seq_length", type=int,
      help="truncate longer inputs (default: the fine-tuning length)")
  classify_parser.set_defaults(run=_classify_command)
  qa_parser = commands.add_parser(
      "qa", help="answer questions with a fine-tuned SQuAD model")
  qa_parser.set_defaults(run=_qa_command)
  choice_parser = commands.add_parser(
      "multiple-choice", help="pick options with a fine-tuned RACE model")
  choice_parser.set_defaults(run=_multiple_choice_command)
  tag_parser = commands.add_parser(
      "tag", help="tag words and find entities with a fine-tuned tagger")
  tag_parser.set_defaults(run=_tag_command)
  for sub, model_help, input_help in (
      (fill, "checkpoint directory or SavedModel directory",
       "text file, one text with [MASK]s per line"),
      (classify_parser, "fine-tuned classifier model_dir, its SavedModel "
       "or a .tflite",
       ".txt (one text per line) or .tsv/.csv table"),
      (qa_parser, "fine-tuned SQuAD model_dir, its SavedModel or a .tflite",
       "JSONL: question, context, optional id"),
      (choice_parser, "fine-tuned albert/race model_dir, its SavedModel or "
       "a .tflite",
       "JSONL (context, question, options) or CSV (option_* columns)"),
      (tag_parser, "fine-tuned albert/tagging model_dir, its SavedModel or "
       "a .tflite",
       "text file, one text per line")):
    sub.add_argument("--model", required=True, help=model_help)
    sub.add_argument("--input", required=True, help=input_help)
    sub.add_argument("--output", required=True, help="JSONL file to write")
    sub.add_argument("--vocab", help="SentencePiece .model (default: the "
                     "model's own)")
    sub.add_argument("--batch_size", type=int, default=32)
    sub.add_argument("--num_threads", type=int,
                     help="LiteRT interpreter threads (a .tflite --model; "
                     "default: LiteRT's)")
  args = parser.parse_args(argv)
  if args.batch_size < 1:
    errors.fail("--batch_size must be >= 1")
  args.run(args)


if __name__ == "__main__":
  errors.run_cli(main)
