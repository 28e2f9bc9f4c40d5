"""Text-to-image inference shared by the worker (which sells it) and the oracle (which re-runs
it to decide disputes): diffusers pipelines, batching, determinism, a tiny generated model."""
