"""Ingestion: landing files (JSON Lines, CSV, optionally gzipped) into lake partitions."""
