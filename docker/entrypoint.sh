#!/bin/sh
# API container start: make sure a secret key exists, run the one-off setup (migrate the user
# database, create the first admin and the MongoDB indexes: `manage.py setup`), then hand over to
# the command (gunicorn) so it receives the signals directly. Replicas that share a database set
# API_RUN_SETUP=false and leave the setup to a step of its own (deploy/k8s/ runs it as a Job).
set -eu

: "${DJANGO_SECRET_KEY_FILE:=/app/data/secret_key}"
export DJANGO_SECRET_KEY_FILE

if [ -z "${DJANGO_SECRET_KEY:-}" ] && [ ! -s "$DJANGO_SECRET_KEY_FILE" ]; then
    echo "entrypoint: no DJANGO_SECRET_KEY given; generating one in $DJANGO_SECRET_KEY_FILE"
    mkdir -p "$(dirname "$DJANGO_SECRET_KEY_FILE")"
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$DJANGO_SECRET_KEY_FILE")
fi

case "${API_RUN_SETUP:-true}" in
    true) python manage.py setup --wait 60 ;;
    false) echo "entrypoint: API_RUN_SETUP=false: no migrations here (they run as their own step)" ;;
    *) echo "entrypoint: API_RUN_SETUP must be true or false, not '${API_RUN_SETUP}'" >&2; exit 2 ;;
esac

exec "$@"
