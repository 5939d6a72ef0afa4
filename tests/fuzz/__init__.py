"""Hypothesis fuzzing of ingest: every decoder, the topic mapper, the Ingestor.

``python -m tests.fuzz.run --payloads 100000`` is the long run; the fast
slice (``test_fuzz_fast.py``) runs with the normal suite.
"""
