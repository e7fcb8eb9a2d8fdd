#!/bin/sh
# API container start: make sure a secret key exists, migrate the user database, create the
# first admin and the MongoDB indexes, then hand over to the command (gunicorn) so it receives
# the signals directly.
set -eu

: "${DJANGO_SECRET_KEY_FILE:=/app/data/secret_key}"
export DJANGO_SECRET_KEY_FILE

if [ -z "${DJANGO_SECRET_KEY:-}" ] && [ ! -s "$DJANGO_SECRET_KEY_FILE" ]; then
    echo "entrypoint: no DJANGO_SECRET_KEY given; generating one in $DJANGO_SECRET_KEY_FILE"
    mkdir -p "$(dirname "$DJANGO_SECRET_KEY_FILE")"
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$DJANGO_SECRET_KEY_FILE")
fi

python manage.py migrate --noinput
python manage.py ensure_admin
python manage.py ensure_indexes --wait 60

exec "$@"
