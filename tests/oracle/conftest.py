"""Oracle stores under test: a fresh SQLite file, and a PostgreSQL schema of its own on the
server named by DEGEN_TEST_POSTGRES_URL (default: the local server CI machines run), dropped
after the test. Without a reachable server the PostgreSQL cases skip, saying why."""

import os
import uuid
from contextlib import contextmanager

import pytest

POSTGRES_URL = os.environ.get("DEGEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_schema():
    """A fresh schema on the test server (dropped after); yields its name. Skips the test
    when the server cannot be reached."""
    from sqlalchemy import create_engine, text

    schema = f"degen_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as db:
            db.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means: skip, visibly
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}); set DEGEN_TEST_POSTGRES_URL to run these")
    try:
        yield schema
    finally:
        with admin.begin() as db:
            db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def database_url(kind: str, schema: str | None, tmp_path) -> str:
    """The SQLAlchemy URL of a test store: a SQLite file, or the PostgreSQL schema."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'oracle.sqlite'}"
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A test store's URL, once per backend."""
    if request.param == "sqlite":
        yield database_url("sqlite", None, tmp_path)
        return
    with postgres_schema() as schema:
        yield database_url("postgresql", schema, tmp_path)


@pytest.fixture
def engine(database):
    from oracle.store import engine_for

    engine = engine_for(database)
    yield engine
    engine.dispose()
