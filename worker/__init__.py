"""The DER owner's daemon (`degen worker run`): watches JobMarket for jobs, checks them
against the site's energy policy, generates images with diffusers, meters the energy and
delivers signed receipts exactly once. See ../../shared/DESIGN.md and docs/SPEC.md.

Nothing runs from here yet: the daemon is built in the issue "DER worker"."""
