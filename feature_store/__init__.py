"""The offline lake (partitioned Parquet, atomic writes) and, later, the online store."""
