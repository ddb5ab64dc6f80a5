"""Shared test fixtures: the real data in ../shared/data and quiet TF logs."""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
  """The directory of real data (GLUE, SQuAD, corpus) beside the checkout."""
  if not SHARED_DATA.is_dir():
    pytest.fail(f"real data not found at {SHARED_DATA}; the tests need "
                "../shared/data beside the repository")
  return SHARED_DATA
