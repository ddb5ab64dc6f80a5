"""User-facing errors and the command-line wrapper that reports them.

Bad input (a missing file, an unknown config key, a vocabulary that does not
match the model) is the user's to fix, so commands report it as one line on
stderr and exit with status 2, without a traceback. Anything else is a bug and
keeps its traceback.
"""

import sys
from typing import Callable, NoReturn


class UserError(ValueError):
  """Bad input the user can fix; the message names the problem and the fix."""


def fail(message: str) -> NoReturn:
  """Raises `UserError(message)`."""
  raise UserError(message)


def run_cli(main: Callable[[], None]) -> None:
  """Runs `main()`; a `UserError` becomes `error: <message>` and exit code 2."""
  try:
    main()
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
