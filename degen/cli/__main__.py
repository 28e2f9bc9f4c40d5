"""`python -m degen.cli`: the `degen` command."""

from degen.cli.main import main

main()
