#!/usr/bin/env bash
# `make run`: the whole system on this machine, for development.
# Starts only what was not given: the embedded database unless MONGODB_URI is set, Redis unless
# REDIS_URL/REDIS_HOST is set or one already answers on the default port.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
source scripts/dev-env.sh
export PYTHONUNBUFFERED=1
export DJANGO_SUPERUSER_USERNAME="${DJANGO_SUPERUSER_USERNAME:-admin}"
export DJANGO_SUPERUSER_PASSWORD="${DJANGO_SUPERUSER_PASSWORD:-admin123}"
mkdir -p .run/redis .run/mongo "${PROCESSED_DIR:-processed_data}"

# One `make run` per folder: a second would fight over the database files in .run/.
exec 9>.run/make-run.lock
if ! flock -n 9; then
  echo "make run is already running in this folder (pid $(cat .run/make-run.pid 2>/dev/null || echo '?'))." >&2
  echo "  Stop it first (Ctrl-C in its terminal, or: kill $(cat .run/make-run.pid 2>/dev/null || echo PID))." >&2
  exit 1
fi
echo $$ > .run/make-run.pid

processes=(api relay consumer1 consumer2 consumer3)
ports=("API_PORT=${API_PORT}")
if [[ -z "${MONGODB_URI:-}" ]]; then
  # retryWrites=false: SecantusDB 0.7.0b3 slows down under retryable writes.
  export MONGODB_URI="mongodb://127.0.0.1:${DEV_MONGO_PORT}/pets_database?retryWrites=false"
  processes=(mongo "${processes[@]}")
  ports+=("DEV_MONGO_PORT=${DEV_MONGO_PORT}")
  mongo_note="embedded SecantusDB on port ${DEV_MONGO_PORT} (data in .run/mongo)"
else
  mongo_note="MONGODB_URI as given"
fi
if [[ -z "${REDIS_URL:-}" && -z "${REDIS_HOST:-}" ]]; then
  export REDIS_URL="redis://127.0.0.1:${DEV_REDIS_PORT}/0"
  if redis-cli -p "${DEV_REDIS_PORT}" ping >/dev/null 2>&1; then
    redis_note="the Redis already running on port ${DEV_REDIS_PORT} (shared with anything else using it)"
  else
    processes=(redis "${processes[@]}")
    ports+=("DEV_REDIS_PORT=${DEV_REDIS_PORT}")
    redis_note="a new redis-server on port ${DEV_REDIS_PORT} (AOF in .run/redis)"
  fi
else
  redis_note="REDIS_URL/REDIS_HOST as given"
fi
python scripts/check_ports.py "${ports[@]}"

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
  Queue:      ./scripts/consumer status   (dead letters: make dead-letters)
  Stop with Ctrl-C.

BANNER
# Ctrl-C in the terminal, or `kill $(cat .run/make-run.pid)` from elsewhere, is how a user stops it:
# honcho then stops every process (consumers finish their task) and that counts as success.
stopping=0
# --env /dev/null: honcho would read .env itself, letting the file beat the command line.
honcho start --env /dev/null "${processes[@]}" &
honcho_pid=$!
trap 'stopping=1; kill -TERM "$honcho_pid" 2>/dev/null || true' INT TERM
status=0
while true; do
  wait "$honcho_pid" && status=0 || status=$?
  kill -0 "$honcho_pid" 2>/dev/null || break  # wait returns early when a signal arrives
done
rm -f .run/make-run.pid
if [[ $stopping == 1 ]]; then
  echo "Pet App stopped."
  exit 0
fi
exit "$status"
