"""Building an experiment config from its name, YAML files and overrides.

Same order and strictness as Model Garden's `train_utils.parse_configuration`
(registered defaults, then each `--config_file` in order, then
`--params_override`, then `validate()` and `lock()`), with three differences
that turn silent mistakes into one-line errors:
* YAML is read with a `yaml.SafeLoader` that, like Model Garden's
  `params_dict` loader, also reads exponent floats without a dot (`5e-5`,
  `1E-5`, `3e-05`) as floats (YAML 1.1 reads them as strings);
* an unknown key names the closest valid key;
* a value must have the field's type (Model Garden would store the string
  "abc" in a float field; here an int is accepted for a float, nothing else
  is converted).
"""

import difflib
import re
import typing
from typing import Any, Dict, List, Optional

import yaml
from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams
from official.modeling.hyperparams import params_dict

from official_albert import errors
from official_albert import io_utils
from official_albert import mg_internals
from official_albert.training import seeding


class SafeLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
  """`yaml.SafeLoader` that reads `5e-5`, `1E-5`, `3e-05`, `1.5e5` as floats.

  YAML 1.1 (PyYAML) needs a dot and a signed exponent for a float, so
  `yaml.safe_load("5e-5")` is the string "5e-5". Model Garden's
  `params_dict` registers the same kind of resolver on `yaml.FullLoader`;
  this one is added to a subclass so that nothing global changes and only
  safe tags are constructed.
  """


SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
                    |[-+]?\.[0-9][0-9_]*[eE][-+]?[0-9]+)$""", re.X),
    list("-+0123456789."))


def safe_load(stream: Any) -> Any:
  """`yaml.safe_load` with exponent floats (see `SafeLoader`).

  Args:
    stream: a YAML string or an open text file.

  Raises:
    yaml.YAMLError: if it is not YAML.
  """
  return yaml.load(stream, Loader=SafeLoader)  # nosec: a SafeLoader.


def get_experiment(name: str) -> cfg.ExperimentConfig:
  """Returns the registered default config of experiment `name`.

  Raises:
    UserError: if `name` is not registered (the message lists those that are).
  """
  known = mg_internals.registered_experiments()
  if name not in known:
    close = difflib.get_close_matches(name or "", known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    errors.fail(f"unknown experiment {name!r}{hint}; known experiments: "
                f"{', '.join(known)}")
  return exp_factory.get_exp_config(name)


def load_yaml_file(path: str) -> Dict[str, Any]:
  """Reads a YAML mapping with `safe_load` (exponent floats allowed).

  Raises:
    UserError: if the file is missing, not YAML, or not a mapping.
  """
  if not io_utils.exists(path) or io_utils.isdir(path):
    errors.fail(f"config file {path!r} not found; check the --config_file path")
  with io_utils.open_file(path) as f:
    try:
      data = safe_load(f)
    except yaml.YAMLError as e:
      errors.fail(f"config file {path!r} is not valid YAML: "
                  f"{str(e).splitlines()[0]}")
  if data is None:
    return {}
  if not isinstance(data, dict):
    errors.fail(f"config file {path!r} must hold a mapping of keys, got a "
                f"{type(data).__name__}")
  return data


def parse_override(text: str) -> Dict[str, Any]:
  """Parses `--params_override`: `a.b=1,c='x'` (comma form) or YAML/JSON.

  Raises:
    UserError: if it is neither.
  """
  if not text:
    return {}
  try:
    data = safe_load(params_dict.nested_csv_str_to_json_str(text))
  except ValueError:
    try:
      data = safe_load(text)
    except yaml.YAMLError:
      data = None
  if not isinstance(data, dict):
    errors.fail(f"malformed --params_override {text!r}; write "
                "key.sub=value,key2=value2 or a YAML mapping")
  return data


def _dotted_keys(config: hyperparams.Config, prefix: str = "") -> List[str]:
  keys = []
  for name in config.as_dict():
    keys.append(prefix + name)
    child = getattr(config, name)
    if isinstance(child, hyperparams.Config):
      keys.extend(_dotted_keys(child, f"{prefix}{name}."))
  return keys


def _type_ok(value: Any, annotation: Any) -> bool:
  """Whether `value` may be stored in a field annotated `annotation`."""
  if annotation is Any:
    return True
  origin = typing.get_origin(annotation)
  if origin is typing.Union:
    return any(_type_ok(value, a) for a in typing.get_args(annotation))
  if annotation is type(None):
    return value is None
  if origin in (list, tuple, typing.Sequence):
    return isinstance(value, (list, tuple))
  if origin is dict or annotation is dict:
    return isinstance(value, dict)
  if annotation is bool:
    return isinstance(value, bool)
  if annotation is int:
    return isinstance(value, int) and not isinstance(value, bool)
  if annotation is float:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
  if annotation is str:
    return isinstance(value, str)
  if isinstance(annotation, type) and issubclass(annotation, hyperparams.Config):
    return isinstance(value, dict) or value is None
  return True  # Unusual annotations are left to Model Garden.


def _type_name(annotation: Any) -> str:
  return getattr(annotation, "__name__", None) or str(annotation).replace(
      "typing.", "")


def check_override(config: hyperparams.Config, override: Dict[str, Any],
                   source: str, root: Optional[hyperparams.Config] = None,
                   prefix: str = "") -> None:
  """Checks every key and value type of `override` against `config`.

  Args:
    config: the config (or sub-config) the override applies to.
    override: a nested mapping of new values.
    source: where the override came from, for messages.
    root, prefix: the whole config and this level's dotted path (recursion).

  Raises:
    UserError: on an unknown key (naming the closest valid one) or a value of
      the wrong type.
  """
  root = root or config
  hints = typing.get_type_hints(type(config))
  for key, value in override.items():
    path = f"{prefix}{key}"
    if not isinstance(key, str) or key not in config.as_dict():
      close = difflib.get_close_matches(path, _dotted_keys(root), n=1)
      hint = f"; did you mean {close[0]!r}?" if close else ""
      errors.fail(f"unknown config key {path!r} in {source}{hint}")
    child = getattr(config, key)
    if isinstance(child, hyperparams.Config) and isinstance(value, dict):
      check_override(child, value, source, root, path + ".")
      continue
    annotation = hints.get(key, Any)
    if not _type_ok(value, annotation):
      errors.fail(f"config key {path!r} in {source} expects "
                  f"{_type_name(annotation)}, got {value!r} "
                  f"({type(value).__name__}); write a value of that type")


def apply_override(config: hyperparams.Config, override: Dict[str, Any],
                   source: str) -> None:
  """Type-checks `override` (see `check_override`) and applies it strictly."""
  check_override(config, override, source)
  try:
    config.override(override, is_strict=True)
  except (KeyError, ValueError, TypeError) as e:
    errors.fail(f"cannot apply {source}: {e}")


def parse_configuration(experiment: str, config_files: Optional[List[str]],
                        params_override: Optional[str],
                        tpu: Optional[str] = None) -> cfg.ExperimentConfig:
  """Builds, validates and locks the experiment config, as train.py does.

  Args:
    experiment: a registered experiment name, e.g. "albert/pretraining".
    config_files: YAML files applied in order.
    params_override: the `--params_override` string, applied last.
    tpu: the `--tpu` address, stored in `runtime.tpu` when given.
    `task.seed`, when set, also seeds the data configs (`seeding`).

  Returns:
    The locked `ExperimentConfig`.

  Raises:
    UserError: on any bad name, file, key, value or restriction.
  """
  params = get_experiment(experiment)
  for path in config_files or []:
    apply_override(params, load_yaml_file(path), f"config file {path!r}")
  apply_override(params, parse_override(params_override or ""),
                 "--params_override")
  if tpu:
    params.override({"runtime": {"tpu": tpu}}, is_strict=True)
  seeding.seed_data_configs(params)
  try:
    params.validate()
  except (KeyError, ValueError, AttributeError) as e:
    errors.fail(f"invalid experiment config: {e}")
  params.lock()
  return params
