"""What operators do to the queue, shared by `consumer.py`'s tools, the API's stats and the panel:
where the tasks are (`state`), dead letters paged, searched, requeued and purged
(`dead_letter_ops`), and the audit trail of those actions (`audit`). No Django here."""
