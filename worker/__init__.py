"""The enrichment worker: queue handling, Wikipedia client, species knowledge, result files.

Imported by `consumer.py`; never imports Django.
"""
