"""The peers of `serving_throughput peers` (see its docstring).

Each path is a function texts -> labels, timed end to end (tokenization,
padding, the model, the argmax). The HuggingFace model is built from the
fine-tuned directory's weights: the encoder through `interop.hf` (our
converter), the classifier's dense layer copied (`[H, C]` kernel
transposed to torch's `[C, H]`), and checked against our SavedModel's
logits before anything is timed.
"""

import json
import pathlib
import time
from typing import Callable, Dict, List, Sequence

import numpy as np
import tensorflow as tf

from official_albert.data.finetuning import classification_data
from official_albert.interop import hf
from official_albert.interop import ours
from official_albert.serving import classify
from official_albert.serving import export
from official_albert.serving import finetuned
from official_albert.serving import litert

# texts -> predicted label ids, for one batch.
Path = Callable[[Sequence[str]], List[int]]


def ours_path(path: str, threads: int) -> Path:
  """Our `predict classify` code on a SavedModel or `.tflite`."""
  served = finetuned.load(path, num_threads=threads)
  labels = {name: i for i, name in enumerate(served.labels)}

  def run(texts):
    examples = [classification_data.Example(i, t, None, "")
                for i, t in enumerate(texts)]
    return [labels[r["label"]] for r in classify.classify(
        served, examples, len(texts), served.seq_length)]
  return run


def hf_model(model_dir: str, out: pathlib.Path):
  """AlbertForSequenceClassification with the model directory's weights,
  and its tokenizer (the same SentencePiece model), saved under `out`."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  served = finetuned.load(model_dir)
  model = served.model
  config = ours.config_of(model.encoder)
  hf_config = transformers.AlbertConfig(
      **hf.config_to_hf(config, "AlbertForSequenceClassification"),
      num_labels=len(served.labels))
  torch_model = transformers.AlbertForSequenceClassification(hf_config)
  state = {k: torch.from_numpy(v) for k, v in hf.to_state_dict(
      ours.read(model.encoder), config).items()}
  kernel, bias = (v.numpy() for v in model.classifier.weights)
  state["classifier.weight"] = torch.from_numpy(kernel.T.copy())
  state["classifier.bias"] = torch.from_numpy(bias)
  missing, unexpected = torch_model.load_state_dict(state, strict=False)
  assert not unexpected and all(k.startswith("predictions") for k in
                                missing), (missing, unexpected)
  torch_model.eval()
  vocab_dir = out / "hf_tokenizer"
  vocab_dir.mkdir(parents=True, exist_ok=True)
  (vocab_dir / "spiece.model").write_bytes(pathlib.Path(
      served.vocab).read_bytes())
  tokenizer = transformers.AlbertTokenizer.from_pretrained(
      str(vocab_dir), do_lower_case=served.lower_case)
  return torch_model, tokenizer, served


def hf_pipeline_path(torch_model, tokenizer, threads: int) -> Path:
  """HuggingFace's text-classification pipeline on PyTorch."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(threads)
  pipe = transformers.pipeline("text-classification", model=torch_model,
                               tokenizer=tokenizer, device="cpu")

  def run(texts):
    return [int(r["label"].split("_")[-1]) for r in pipe(
        list(texts), batch_size=len(texts), truncation=True, max_length=128)]
  return run


def onnx_path(torch_model, tokenizer, threads: int, out: pathlib.Path,
              int8: bool = False):
  """ONNX Runtime on the HuggingFace model (None if not installed); with
  `int8`, on its dynamic-range int8 form (`quantize_dynamic`, the peer of
  our dynamic_int8)."""
  try:
    import onnxruntime  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  import torch  # pylint: disable=g-import-not-at-top
  path = out / "hf_sst2.onnx"
  if not path.exists():
    dummy = tokenizer(["a fine film", "a longer text here"], padding=True,
                      return_tensors="pt")
    # Single sentences: the type ids are all 0, HF's default.
    torch.onnx.export(
        torch_model, (dummy["input_ids"], dummy["attention_mask"]), str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"], dynamo=False,
        dynamic_axes={k: {0: "batch", 1: "length"} for k in
                      ("input_ids", "attention_mask")})
  if int8:
    from onnxruntime import quantization  # pylint: disable=g-import-not-at-top
    quantized = out / "hf_sst2_int8.onnx"
    if not quantized.exists():
      quantization.quantize_dynamic(str(path), str(quantized),
                                    weight_type=quantization.QuantType.QInt8)
    path = quantized
  options = onnxruntime.SessionOptions()
  options.intra_op_num_threads = threads
  options.inter_op_num_threads = 1
  session = onnxruntime.InferenceSession(str(path), options,
                                         providers=["CPUExecutionProvider"])

  def run(texts):
    batch = tokenizer(list(texts), padding=True, truncation=True,
                      max_length=128, return_tensors="np")
    logits = session.run(["logits"], {k: batch[k].astype(np.int64) for k in
                                      ("input_ids", "attention_mask")})[0]
    return logits.argmax(-1).tolist()
  return run


def measure(run: Path, texts: Sequence[str]) -> Dict:
  """Sentences/s at batch 1 and 32, p50/p95 ms at batch 1, the labels."""
  run(texts[:32])
  run(texts[:1])  # Warm-up of both shapes.
  times, labels = [], []
  for text in texts:
    start = time.perf_counter()
    labels += run([text])
    times.append(time.perf_counter() - start)
  start = time.perf_counter()
  batched = []
  for i in range(0, len(texts), 32):
    batched += run(texts[i:i + 32])
  seconds32 = time.perf_counter() - start
  return dict(batch1=len(texts) / sum(times), batch32=len(texts) / seconds32,
              p50=1e3 * np.percentile(times, 50),
              p95=1e3 * np.percentile(times, 95), labels=batched)


def run(args) -> None:
  """Exports, builds the peers, measures and prints the table."""
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  saved = out / "sst2"
  if not saved.exists():
    export.main(["--input", args.model_dir, "--output", str(saved),
                 "--litert", "all"])
  spec = classification_data.GLUE_TASKS["sst-2"]
  texts = [e.text_a for e in classification_data.read_examples(
      str(pathlib.Path(args.data_dir) / "glue/SST-2/dev.tsv"), spec)]
  texts = texts[:args.sentences]
  torch_model, tokenizer, served = hf_model(args.model_dir, out)
  # The same weights: HF's logits are ours on our own ids.
  ids = finetuned.pad_batch([classification_data.encode_example(
      served.tokenizer, classification_data.Example(0, t, None, ""), 128)
                             for t in texts[:16]], served.tokenizer.pad_id)
  import torch  # pylint: disable=g-import-not-at-top
  with torch.no_grad():
    theirs = torch_model(
        input_ids=torch.from_numpy(ids["input_word_ids"]).long(),
        attention_mask=torch.from_numpy(ids["input_mask"]).long(),
        token_type_ids=torch.from_numpy(ids["input_type_ids"]).long()
    ).logits.numpy()
  mine = served.predict(ids)["logits"]
  print(f"HF vs ours, logits on the same ids: max |diff| "
        f"{np.abs(theirs - mine).max():.2e}", flush=True)
  paths = {"ours SavedModel": ours_path(str(saved), args.threads)}
  for form in litert.QUANTIZATIONS:
    paths[f"ours LiteRT {form}"] = ours_path(
        litert.output_path(str(saved), form), args.threads)
  paths["HF pipeline (PyTorch)"] = hf_pipeline_path(torch_model, tokenizer,
                                                    args.threads)
  onnx = onnx_path(torch_model, tokenizer, args.threads, out)
  if onnx:
    paths["ONNX Runtime (HF model)"] = onnx
    paths["ONNX Runtime dynamic int8 (HF model)"] = onnx_path(
        torch_model, tokenizer, args.threads, out, int8=True)
  else:
    print("ONNX Runtime: not installed, skipped")
  results = {}
  for name, path in paths.items():
    results[name] = measure(path, texts)
    r = results[name]
    print(f"{name}: batch 1 {r['batch1']:.1f}/s (p50 {r['p50']:.2f} ms, "
          f"p95 {r['p95']:.2f} ms), batch 32 {r['batch32']:.1f}/s",
          flush=True)
  reference = results["ours SavedModel"]["labels"]
  ours_names = [n for n in results if n.startswith("ours")]
  best1 = max(ours_names, key=lambda n: results[n]["batch1"])
  best32 = max(ours_names, key=lambda n: results[n]["batch32"])
  print(f"\n{len(texts)} SST-2 dev sentences, {args.threads} threads; "
        f"ratios: our fastest ({best1} at batch 1, {best32} at 32) / path")
  print("| path | batch 1 (sent/s) | p50 (ms) | p95 (ms) | batch 32 "
        "(sent/s) | ours-fastest / path, batch 1 | batch 32 | labels = "
        "SavedModel's |\n|---|---|---|---|---|---|---|---|")
  for name, r in results.items():
    agree = np.mean([a == b for a, b in zip(r["labels"], reference)])
    print(f"| {name} | {r['batch1']:.1f} | {r['p50']:.2f} | {r['p95']:.2f} "
          f"| {r['batch32']:.1f} | "
          f"{results[best1]['batch1'] / r['batch1']:.2f} | "
          f"{results[best32]['batch32'] / r['batch32']:.2f} | {agree:.3f} |")
  (out / "peers.json").write_text(json.dumps(
      {k: {m: v for m, v in r.items() if m != "labels"}
       for k, r in results.items()}, indent=1))
