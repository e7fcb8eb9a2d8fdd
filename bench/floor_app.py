"""The floor API: the least a WSGI app can do for the same requests (no framework).

POST /api/pets/: verify the HS256 JWT, validate the body, insert with pymongo, RPUSH the task.
GET /api/pets/: verify the JWT, read 100 pets newest first (the same ordering the API keeps, so
the database sorts for the floor too), return their public fields as a JSON array.
Served by gunicorn with the same number of worker processes as the API.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime

import jwt
import pymongo
import redis
from pymongo.collection import Collection

SECRET = os.environ["DJANGO_SECRET_KEY"]
pets: Collection = pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database("pets_database")["pet"]
queue = redis.Redis.from_url(os.environ["REDIS_URL"])
FIELDS = {"name": str, "species": str, "age": int, "owner": str, "vaccinated": bool}
SHOWN = (*FIELDS, "created_at", "updated_at")


def respond(start_response, status: str, body: object) -> list[bytes]:
    data = json.dumps(body, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def app(environ, start_response):  # noqa: ANN001, ANN201 (WSGI)
    try:
        jwt.decode(environ.get("HTTP_AUTHORIZATION", "")[7:], SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        return respond(start_response, "401 Unauthorized", {"error": "invalid token"})
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        if not all(isinstance(body.get(k), t) for k, t in FIELDS.items()):
            return respond(start_response, "400 Bad Request", {"error": "invalid"})
        now = datetime.now(UTC)
        doc = {k: body[k] for k in FIELDS} | {"species_key": body["species"].lower(), "created_at": now}
        doc["updated_at"] = now
        pet_id = pets.insert_one(doc).inserted_id
        task = {k: body[k] for k in FIELDS} | {"pet_id": str(pet_id), "task_id": uuid.uuid4().hex}
        queue.rpush("pets:tasks", json.dumps(task | {"enqueued_at": now.isoformat()}))
        return respond(start_response, "201 Created", {"pet": doc | {"_id": str(pet_id)}, "task_queued": True})
    docs = pets.find({}).sort([("created_at", -1), ("_id", -1)]).limit(100)
    return respond(start_response, "200 OK", [{"id": str(doc["_id"])} | {k: doc.get(k) for k in SHOWN} for doc in docs])
