# Sourced by `make run` and the operator scripts: the same settings for all of them.
# .env (read as data, the environment winning), then the development defaults.
# shellcheck shell=bash
if [[ -f .env ]]; then
  eval "$(.venv/bin/python scripts/dotenv_exports.py .env)"
fi
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export API_HOST="${API_HOST:-127.0.0.1}" API_PORT="${API_PORT:-8000}"
export DEV_REDIS_PORT="${DEV_REDIS_PORT:-6379}" DEV_MONGO_PORT="${DEV_MONGO_PORT:-27017}"
