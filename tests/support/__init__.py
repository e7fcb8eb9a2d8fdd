"""Helpers for tests that run real servers and processes on 127.0.0.1, one module per job:

- `processes`: ROOT, the venv, free ports, waiting, a logged child process, its environment;
- `servers`: Redis (and Sentinel) and PostgreSQL started on free ports;
- `api`: the API as the tests run it (gunicorn, as in production), a client, the event stream;
- `wikipedia`: the local stand-in for Wikipedia's REST summaries;
- `tasks`: tasks pushed by hand and the result files consumers write;
- `browser`: Debian's headless Chromium for the page and the panel.
"""
