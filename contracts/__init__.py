"""Contracts shared by the API (producer) and the workers (consumers).

Nothing in this package may import Django: the worker image does not ship it.
"""
