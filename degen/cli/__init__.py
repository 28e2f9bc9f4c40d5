"""The `degen` command line (`degen.cli.main:main`), one module per command group."""
