"""A tiny key-value service for tests of "any app": stdlib only, talks to DynamoDB over HTTP itself.

    POST /items {"value": ...}  (Idempotency-Key header) -> 201 {"id"}   PutItem in the primary region
    GET  /items/{id}                                      -> 200 | 404   GetItem
    GET  /healthz                                         -> 200
MODE=forgetful acknowledges every third write without storing it (a lost write the audit must find).
It reads only the standard SDK variables the harness exports in its sandbox.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import ThreadingHTTPServer

import boto3
import botocore.config
from json_handler import JsonHandler  # next to this file (the script's directory is on sys.path)

MODE = os.environ.get("MODE", "honest")
TABLE = "kv"
client = boto3.client("dynamodb", region_name=os.environ["AWS_DEFAULT_REGION"],
                      endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
                      config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 2},
                                                    connect_timeout=1, read_timeout=2))
writes = 0


class Handler(JsonHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        key = self.path.removeprefix("/items/")
        try:
            item = client.get_item(TableName=TABLE, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")
        except Exception as exc:
            return self.reply(503, {"error": type(exc).__name__})
        self.reply(200 if item else 404, {"id": key} if item else {"error": "not_found"})

    def do_POST(self) -> None:
        global writes
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        key = "k-" + self.headers.get("Idempotency-Key", "none")
        writes += 1
        if MODE == "forgetful" and writes % 3 == 0:
            return self.reply(201, {"id": key})
        try:
            client.put_item(TableName=TABLE, Item={"id": {"S": key}, "value": {"S": str(body.get("value"))}})
        except Exception as exc:
            return self.reply(503, {"error": type(exc).__name__})
        self.reply(201, {"id": key})


if __name__ == "__main__":
    print(f"kv_app ({MODE}) on 127.0.0.1:{os.environ['PORT']}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
    sys.exit(0)
