"""The network operator's daemon (`degen oracle run`): ingests signed meter samples,
issues RECs, verifies delivered results, arbitrates disputes and keeps the market moving.

Built in the issue "Oracle"; so far the acceptance rules for signed meter samples
(`rules.py`), the sample store on SQLite or PostgreSQL (`store.py`) and the ingest API
(`ingest.py`)."""
