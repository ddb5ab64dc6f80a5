"""The package layout: layers import downwards only, and moved commands keep
their old `python -m` paths for one release (with a one-line notice).

Tests: `official_albert.deprecation`.
"""

import ast
import pathlib
import runpy
import sys

import pytest

from official_albert import deprecation

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "official_albert"

# Lower layers may not import these (configs -> data, never back).
HIGHER = {
    "data": ("configs", "tasks", "training", "serving", "sweep", "tools",
             "interop"),
    "metrics": ("configs", "tasks", "training", "serving", "sweep", "tools"),
    "modeling": ("configs", "tasks", "training", "serving", "sweep", "tools",
                 "interop"),
}

MOVED = {
    "official_albert.data.prepare_corpus":
        "official_albert.data.pretraining.prepare_corpus",
    "official_albert.data.train_vocab":
        "official_albert.data.pretraining.train_vocab",
    "official_albert.data.create_pretraining_data":
        "official_albert.data.pretraining.create_pretraining_data",
    "official_albert.data.beam_pipeline":
        "official_albert.data.pretraining.beam_pipeline",
    "official_albert.data.create_finetuning_data":
        "official_albert.data.finetuning.create_finetuning_data",
    "official_albert.tools.sweep": "official_albert.sweep.cli",
}


def _imports(path: pathlib.Path):
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module:
      yield node.module
    elif isinstance(node, ast.Import):
      yield from (a.name for a in node.names)


@pytest.mark.parametrize("layer", sorted(HIGHER))
def test_no_import_from_a_higher_layer(layer):
  bad = [f"{path.relative_to(PACKAGE)}: {name}"
         for path in sorted((PACKAGE / layer).rglob("*.py"))
         for name in _imports(path)
         if any(name == f"official_albert.{h}"
                or name.startswith(f"official_albert.{h}.")
                for h in HIGHER[layer])]
  assert not bad


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_cli_path_prints_one_line_and_runs_the_new_one(
    old, monkeypatch, capsys):
  if "beam_pipeline" in old:
    pytest.importorskip("apache_beam")
  monkeypatch.setattr(sys, "argv", [old, "--help"])
  with pytest.raises(SystemExit) as exit_info:
    runpy.run_module(old, run_name="__main__")
  assert exit_info.value.code == 0
  out, err = capsys.readouterr()
  assert err.splitlines()[0] == deprecation.notice(
      old, MOVED[old].removesuffix(".cli"))
  assert "usage:" in out


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_import_path_forwards_to_the_new_module(old):
  if "beam_pipeline" in old:
    pytest.importorskip("apache_beam")
  module = __import__(old, fromlist=["main"])
  new = __import__(MOVED[old], fromlist=["main"])
  assert module.main is new.main


TESTS = pathlib.Path(__file__).resolve().parent


def _tested_modules(path: pathlib.Path):
  """The dotted names on the `Tests:` line(s) of a test file's docstring."""
  doc = ast.get_docstring(ast.parse(path.read_text())) or ""
  _, _, tail = doc.partition("\nTests: ")
  paragraph = tail.split("\n\n")[0]
  return [name.strip("`.,") for name in paragraph.split()]


def _module_exists(name: str) -> bool:
  root = PACKAGE.parent.joinpath(*name.split("."))
  return root.with_suffix(".py").is_file() or (root / "__init__.py").is_file()


def test_every_test_file_names_the_modules_it_tests():
  named = {path.name: _tested_modules(path)
           for path in sorted(TESTS.glob("test_*.py"))}
  assert not [f for f, names in named.items() if not names]
  assert not [(f, n) for f, names in named.items() for n in names
              if not _module_exists(n)]
  # Every module of the package is named by some test file, except the
  # packages' `__init__` and the one-release `python -m` shims.
  every = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
           for p in PACKAGE.rglob("*.py")
           if p.name not in ("__init__.py", "__main__.py")}
  assert every - {n for names in named.values() for n in names} == set()


# The main entry points, each with a runnable `Example:` on bundled data.
ENTRY_POINTS = (
    "train.py", "official_albert/data/pretraining/prepare_corpus.py",
    "official_albert/data/pretraining/train_vocab.py",
    "official_albert/data/pretraining/create_pretraining_data.py",
    "official_albert/data/pretraining/beam_pipeline.py",
    "official_albert/data/finetuning/create_finetuning_data.py",
    "official_albert/interop/convert.py", "official_albert/serving/export.py",
    "official_albert/serving/predict.py", "official_albert/sweep/cli.py")


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_entry_point_example_names_what_exists(entry_point):
  path = PACKAGE.parent / entry_point
  doc = ast.get_docstring(ast.parse(path.read_text()))
  _, found, example = doc.partition("\nExample (on bundled data")
  assert found, f"{entry_point} has no Example section"
  words = example.replace("=", " ").replace('"', " ").split()
  modules = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-m"]
  if "python train.py" not in example:
    assert modules and all(_module_exists(m) for m in modules), modules
  # Every repository path the example reads exists (outputs go under /tmp).
  local = [w for w in words
           if w.split("/")[0] in ("tests", "configs", "experiments", "assets")]
  assert all((PACKAGE.parent / w).exists() for w in local), local
