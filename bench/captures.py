"""Generate captures for the audit benchmark: JSON Lines and HAR files of any size, streamed to disk.

Most exchanges are clean callouts with distinct ids (so no cache could help); one in twenty
shows one of the drift kinds; one in twenty is another operation, which the audit skips.
The generator keeps one entry in memory at a time, so a 1 GB file costs no RAM to write.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

PATH = "/panic-api/v2/callouts/{}"
HOST = "https://staging-panic.aura.services"
STATUSES = ("created", "Responder Dispatched", "RESPONDER CANCELLED", "closed", "responder dispatched")
SENTINEL_TOKEN = "bench-token-never-printed"  # stands in for the token a HAR carries; never printed


def callout(callout_id: int) -> dict[str, Any]:
    return {
        "id": callout_id,
        "customerId": 178921 + callout_id % 97,
        "predefinedLocationId": None if callout_id % 3 == 0 else 99001,
        "status": STATUSES[callout_id % len(STATUSES)],
        "latitude": -33.9258 + (callout_id % 1000) / 1e5,
        "longitude": 18.4233,
        "responseTypeId": 2,
        "calloutClassificationId": 3,
        "createdAt": f"2024-04-{1 + callout_id % 28:02d}T14:45:{callout_id % 60:02d}Z",
    }


def _drifted(callout_id: int, turn: int) -> tuple[int, dict[str, Any] | str, str]:
    """(status, body, content type) for one drift kind in turn."""
    body = callout(callout_id)
    kind = turn % 10
    if kind == 0:
        del body["calloutClassificationId"]
    elif kind == 1:
        body["id"] = str(callout_id)
    elif kind == 2:
        body["customerId"] = None
    elif kind == 3:
        body["createdAt"] = "20/04/2024 14:45"
    elif kind == 4:
        body["status"] = "Escalated"
    elif kind == 5:
        body["responderEta"] = 420
    elif kind == 6:
        body["id"] = callout_id + 1
    elif kind == 7:
        return 500, {"message": "Internal Server Error"}, "application/json"
    elif kind == 8:
        return 200, "<html><body>maintenance</body></html>", "text/html"
    else:
        return 200, orjson.dumps(body).decode()[:40], "application/json"
    return 200, body, "application/json"


def exchanges(
    count: int, first_id: int = 1_000_000, *, mix: bool = True
) -> Iterator[tuple[str, str, int, dict[str, Any] | str, str]]:
    """(method, path, status, body, content type) for `count` exchanges, a fixed mix (`mix=False`: every one
    a clean callout)."""
    for n in range(count):
        callout_id = first_id + n
        slot = n % 20 if mix else 0
        if slot == 7:
            yield "GET", f"{PATH.format(callout_id)}/events", 200, {"events": []}, "application/json"
        elif slot == 13:
            status, body, media = _drifted(callout_id, n // 20)
            yield "GET", PATH.format(callout_id), status, body, media
        else:
            yield "GET", PATH.format(callout_id), 200, callout(callout_id), "application/json"


def write_jsonl(path: Path, count: int, *, mix: bool = True) -> int:
    """Fixture-format records, one per line; returns the file size."""
    with path.open("wb", buffering=1 << 20) as out:
        for method, url_path, status, body, media in exchanges(count, mix=mix):
            response: dict[str, Any] = {"status": status, "headers": {"content-type": media}}
            response["body" if isinstance(body, dict) else "body_text"] = body
            record = {"request": {"method": method, "path": url_path, "credentials": "valid"}, "response": response}
            out.write(orjson.dumps(record) + b"\n")
    return path.stat().st_size


def _har_entry(method: str, url_path: str, status: int, body: dict[str, Any] | str, media: str) -> dict[str, Any]:
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return {
        "startedDateTime": "2024-04-20T14:45:00.000Z",
        "time": 42.5,
        "request": {
            "method": method,
            "url": HOST + url_path,
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {SENTINEL_TOKEN}"},
                {"name": "Accept", "value": "application/json"},
            ],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": "OK" if status == 200 else "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": media}, {"name": "Content-Length", "value": str(len(text))}],
            "cookies": [],
            "content": {"size": len(text), "mimeType": media, "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(text),
        },
        "cache": {},
        "timings": {"send": 0.1, "wait": 40.2, "receive": 2.2},
    }


def write_har(path: Path, count: int) -> int:
    """A HAR 1.2 document written entry by entry; returns the file size."""
    with path.open("wb", buffering=1 << 20) as out:
        out.write(b'{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": [\n')
        for n, exchange in zip(itertools.count(), exchanges(count), strict=False):
            out.write((b",\n" if n else b"") + orjson.dumps(_har_entry(*exchange)))
        out.write(b"\n]}}\n")
    return path.stat().st_size
