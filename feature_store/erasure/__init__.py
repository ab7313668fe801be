"""Erasing one user from the platform's stores (docs/operations.md, "Erasure").

    user.py          the user being erased: the id rule, its keyed hash, how a text mentions it
    files.py         the lake's Parquet and text files, and the landing exports
    redis_store.py   online features, published recommendations, the feedback stream
    erased_users.py  the list of erased users (keyed hashes only) that ingest drops

The steps that use them, and the DAG's verify step, are in ``tasks/erasure.py``.
"""
