"""`python -m official_albert.sweep`: the sweep command (see `cli`)."""

from official_albert.sweep import cli

if __name__ == "__main__":
  cli.main()
