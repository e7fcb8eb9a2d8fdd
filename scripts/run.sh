#!/usr/bin/env bash
# `make run`: the whole system on this machine, for development.
# Starts only what was not given: the embedded database unless MONGODB_URI is set, Redis unless
# REDIS_URL/REDIS_HOST is set or one already answers on the default port.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
if [[ -f .env ]]; then set -a; source .env; set +a; fi
export PYTHONUNBUFFERED=1
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
export API_HOST="${API_HOST:-127.0.0.1}" API_PORT="${API_PORT:-8000}"
export DEV_REDIS_PORT="${DEV_REDIS_PORT:-6379}" DEV_MONGO_PORT="${DEV_MONGO_PORT:-27017}"
export DJANGO_SUPERUSER_USERNAME="${DJANGO_SUPERUSER_USERNAME:-admin}"
export DJANGO_SUPERUSER_PASSWORD="${DJANGO_SUPERUSER_PASSWORD:-admin123}"
mkdir -p .run/redis .run/mongo "${PROCESSED_DIR:-processed_data}"

processes=(api relay consumer1 consumer2 consumer3)
if [[ -z "${MONGODB_URI:-}" ]]; then
  # retryWrites=false: SecantusDB 0.7.0b3 slows down under retryable writes (DESIGN.md section 3).
  export MONGODB_URI="mongodb://127.0.0.1:${DEV_MONGO_PORT}/pets_database?retryWrites=false"
  processes=(mongo "${processes[@]}")
  mongo_note="embedded SecantusDB on port ${DEV_MONGO_PORT} (data in .run/mongo)"
else
  mongo_note="MONGODB_URI as given"
fi
if [[ -z "${REDIS_URL:-}" && -z "${REDIS_HOST:-}" ]]; then
  export REDIS_URL="redis://127.0.0.1:${DEV_REDIS_PORT}/0"
  if redis-cli -p "${DEV_REDIS_PORT}" ping >/dev/null 2>&1; then
    redis_note="the Redis already running on port ${DEV_REDIS_PORT}"
  else
    processes=(redis "${processes[@]}")
    redis_note="a new redis-server on port ${DEV_REDIS_PORT} (AOF in .run/redis)"
  fi
else
  redis_note="REDIS_URL/REDIS_HOST as given"
fi

python manage.py migrate --noinput -v 0
python manage.py ensure_admin

cat <<BANNER

  Pet App is starting
  ───────────────────
  Pet list:   http://${API_HOST}:${API_PORT}/
  API docs:   http://${API_HOST}:${API_PORT}/api/docs/
  Login:      ${DJANGO_SUPERUSER_USERNAME} / ${DJANGO_SUPERUSER_PASSWORD}
  Database:   ${mongo_note}
  Redis:      ${redis_note}
  Results:    ${PROCESSED_DIR:-processed_data}/
  Stop with Ctrl-C.

BANNER
exec honcho start "${processes[@]}"
