"""Oracle stores under test: a fresh SQLite file, and a PostgreSQL schema of its own on the
server named by DEGEN_TEST_POSTGRES_URL (default: the local server CI machines run), dropped
after the test. Without a reachable server the PostgreSQL cases skip, saying why. And disputed
jobs, staged as a provider would deliver them, for the oracles to decide."""

import os
import uuid
from contextlib import contextmanager

import pytest

from degen.inference.pipelines import Pipelines, Task
from degen.models import Computation, GenerationParams
from tests.conftest import MODEL_ID

SMALL = GenerationParams(width=64, height=64, steps=3, guidance_x100=750, seed=5)
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


@pytest.fixture(scope="module")
def staging_pipelines(tiny_model):
    """The provider's pipeline as these tests stage deliveries (this machine's setup)."""
    return Pipelines({MODEL_ID: str(tiny_model)}, device="cpu")


@pytest.fixture
def disputed_job(provider_endpoint, create_job, offer_id, chain, make_receipt, sign, market, provider, requester, token,
                 staging_pipelines):
    """Factory: a job computed in a batch with `company` other jobs of Bob's (the disputed one
    last), delivered with its image (or the image of `seed`, a tampered delivery), served by
    Bob's endpoint with the computation record `declare` makes of the honest one (None: no
    record), and disputed by the requester."""

    def disputed(seed: int | None = None, company: int = 0, declare=lambda honest: honest, **terms) -> int:
        offer = terms.pop("offer_id", offer_id)
        job_ids = []
        for n in range(company + 1):
            job_ids.append(create_job(params=SMALL.model_copy(update={"seed": SMALL.seed + n}), prompt=f"a lighthouse at dusk, {n}",
                                      offer_id=offer, challenge_window=3600, **terms))
            market.accept(job_ids[-1], offer, sender=provider)
        job_id = job_ids[-1]
        chain.pending_timestamp += 60
        batch = [Task.of(i, MODEL_ID, f"a lighthouse at dusk, {n}", SMALL.model_copy(update={"seed": SMALL.seed + n}))
                 for n, i in enumerate(job_ids)]
        if seed is not None:  # the delivered image is another seed's
            batch[-1] = Task.of(job_id, MODEL_ID, batch[-1].prompt, SMALL.model_copy(update={"seed": seed}))
        png = staging_pipelines.generate(batch)[-1]
        declared = declare(Computation(batch=job_ids, setup=staging_pipelines.setup()))
        provider_endpoint.serve(job_id, requester.address, png, declared)
        receipt = make_receipt(job_id, result=png, energy_mwh=200)
        market.deliver(job_id, receipt.as_tuple(), sign(receipt), sender=provider)
        token.approve(market, market.dispute_bond(), sender=requester)
        market.dispute(job_id, sender=requester)
        return job_id

    return disputed
