"""The formats the API (producer) and the workers (consumers) exchange, one owner each: tasks and
queue keys (`tasks`), a pet's enrichment state (`task_status`), the result file and record
(`results`), the dead-letter entry (`dead_letters`), the live events (`events`), which links may be
shown (`links`). Plumbing is in `infra/`, operations on the queue in `queue_tools/`.

Nothing in this package may import Django: the worker image does not ship it.
"""
