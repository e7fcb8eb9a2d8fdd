# The API image: Django under gunicorn, as a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt requirements-worker.txt ./
RUN pip install --no-cache-dir -r requirements.txt

RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --home-dir /app app \
    && mkdir -p /app/data /app/processed_data && chown 10001:10001 /app/data /app/processed_data

# What runs, nothing else (no tests, docs, bench or deploy files).
COPY manage.py gunicorn.conf.py ./
COPY docker/entrypoint.sh ./docker/
COPY contracts/ ./contracts/
COPY infra/ ./infra/
COPY queue_tools/ ./queue_tools/
COPY pets/ ./pets/
COPY ops/ ./ops/
COPY pets_project/ ./pets_project/
COPY templates/ ./templates/

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/', timeout=2)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
# Settings in gunicorn.conf.py (uvicorn workers); WEB_CONCURRENCY sets the number of workers.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
