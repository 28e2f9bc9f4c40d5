"""docs/performance.md holds one section per benchmark ("## Worker", "## Oracle"); each
benchmark rewrites its own section and leaves the others as they are."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

TITLE = "# Performance\n"


def replace_section(path: Path, name: str, body: str) -> None:
    """Replaces (or appends) the section `## name` of the document at `path` with `body`."""
    text = path.read_text() if path.exists() else TITLE
    section = f"## {name}\n\n{body.rstrip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def arguments(doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line, described by its module docstring's first line, with the
    options every one takes: --out (the document whose section it rewrites) and --network."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/performance.md"))
    parser.add_argument("--network", default="ethereum:local:foundry")
    return parser
