"""Oracle stores under test: a fresh SQLite file, and a PostgreSQL schema of its own on the
server named by DEGEN_TEST_POSTGRES_URL (default: the local server CI machines run), dropped
after the test. Without a reachable server the PostgreSQL cases skip, saying why."""

import os
import uuid

import pytest

POSTGRES_URL = os.environ.get("DEGEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    from sqlalchemy import create_engine, text

    from oracle.store import engine_for

    if request.param == "sqlite":
        engine = engine_for(f"sqlite:///{tmp_path / 'oracle.sqlite'}")
        yield engine
        engine.dispose()
        return
    schema = f"degen_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as db:
            db.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means: skip, visibly
        admin.dispose()
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}); set DEGEN_TEST_POSTGRES_URL to run these")
    engine = engine_for(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as db:
            db.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
