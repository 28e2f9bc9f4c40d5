"""The network operator's daemon (`degen oracle run`): ingests signed meter samples,
issues RECs, verifies delivered results, arbitrates disputes and keeps the market moving.

Nothing runs from here yet: the daemon is built in the issue "Oracle"."""
