"""Hypothesis strategies the fuzz tests share: any JSON value, with integers at the edges of
the types the contracts and databases use."""

from __future__ import annotations

from hypothesis import strategies as st

EDGES = [0, 1, -1, 255, 1_000, 2**16, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**256 - 1, 2**256,
         -(2**70), 10**60]
json_values = st.recursive(
    st.none() | st.booleans() | st.sampled_from(EDGES) | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
