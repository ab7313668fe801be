"""Windowed features for users, items, categories and tags, computed incrementally per day."""
