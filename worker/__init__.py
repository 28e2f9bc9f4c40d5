"""The DER owner's daemon (`degen worker run`): watches JobMarket for jobs, checks them
against the site's energy policy, generates images with diffusers, meters the energy and
delivers signed receipts exactly once. See ../../shared/DESIGN.md and docs/SPEC.md.

So far: energy meters (`meter.py`: NVML, RAPL, a declared power-model estimate), the
step journal (`journal.py`, SQLite, forward-only and idempotent per job), the
content-addressed result store (`results.py`, sha256 + CIDv1), the job choice and
green-energy policy (`policy.py`) and the
site's persisted meter register (`register.py`). The daemon itself is still to come
(issue "DER worker")."""
