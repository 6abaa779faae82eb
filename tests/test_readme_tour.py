"""The README's curl tour, run as written against a real server with the demo city loaded.

The `sh` blocks of README.md are read from the file itself; their variable definitions and `curl`
lines run in one bash script, in order (so an id taken from one answer feeds the next), with
`http://127.0.0.1:8000` pointed at the test server. A `curl` shim on PATH records each call's
status and body; every call must match one expectation below and every expectation must be met,
so an example added to or changed in the README without its expectation fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command

from tests.servers import get, live_server

README = Path(__file__).resolve().parent.parent / "README.md"
README_BASE = "http://127.0.0.1:8000"

# (regex searched in the curl command as run, variables expanded; the first match wins), status, body part
EXPECTED = [
    (r"/healthz$", 200, '"database"'),
    (r"-H Authorization: Bearer gp_\S+ \S+/api/me$", 200, '"jtw"'),
    (r"-u any-name:", 200, '"zsj"'),
    (r"^-s \S+/api/me$", 401, "detail"),
    (r"--data-urlencode q=道路", 200, '"roads"'),
    (r"/api/catalog/businesses/$", 200, '"credit_code"'),
    (r"/api/catalog/businesses/record$", 200, '"Feature"'),
    (r"/subscription$", 200, '"subscribed":"businesses"'),
    (r"/api/applications/ -d", 201, '"id"'),
    (r"/api/applications/$", 200, '"applicant":"swj"'),
    (r"/check -d", 200, '"status"'),
    (r"/approve -d", 200, '"decision":"approved"'),
    (r"/reject -d", 200, '"decision":"rejected"'),
    (r"/api/grants/$", 200, '"businesses"'),
    (r"/api/audit/\?limit=50$", 200, '"results"'),
    (r"/api/notifications/$", 200, "["),
    (r"/api/demands/$", 200, "["),
    (r"/ogc/collections$", 200, '"roads"'),
    (r"/ogc/collections/roads/items\?limit=100", 200, '"FeatureCollection"'),
    (r"--data-urlencode filter=industry LIKE", 200, '"FeatureCollection"'),
    (r"/api/catalog/roads/$", 200, '"last_published_at"'),
    (r"datetime=", 200, '"FeatureCollection"'),
    (r"/api/layers/roads/tilejson.json", 200, '"tiles"'),
    (r"download.gpkg", 200, ""),
    (r"--data-urlencode q=示范市", 200, '"door"'),
    (r"-X POST \S+/api/geocode -d", 200, '"level"'),
    (r"/api/reverse", 200, '"level"'),
    (r"/api/geocode/jobs/$", 202, '"id"'),
    (r"/api/imagery/$", 200, "aerial-imagery"),
    (r"/tiles/aerial-imagery/2024/tilejson.json", 200, '"tiles"'),
]

CURL_SHIM = r"""#!/bin/bash
# Runs the real curl and records argv, status and body; the body still goes where the caller sent it (-o or stdout).
out=$(mktemp -d)
target=""
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then target="$2"; shift 2; else args+=("$1"); shift; fi
done
"$REAL_CURL" "${args[@]}" -o "$out/body" -w '%{http_code}' > "$out/status"
code=$?
touch "$out/body"
python3 - "$out" "${args[@]}" <<'EOF'
import json, os, sys
out = sys.argv[1]
body = open(out + "/body", "rb").read().decode("utf-8", "replace")
status = open(out + "/status").read().strip()[-3:]
with open(os.environ["TOUR_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[2:], "status": int(status or 0), "body": body[:20000]}) + "\n")
EOF
if [ -n "$target" ]; then cp "$out/body" "$target"; else cat "$out/body"; fi
rm -rf "$out"
exit $code
"""


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def tour_script(text: str, base: str) -> str:
    """The README's curl lines and variable definitions, continuation lines joined, in order."""
    kept = []
    for block in sh_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            stripped = line.strip()
            if stripped.startswith("curl ") or re.match(r"^[A-Z_]+=", stripped):
                kept.append(stripped.replace(README_BASE, base))
    return "\n".join(kept) + "\n"


def test_readme_has_no_raw_chinese_in_curl_urls():
    """uvicorn refuses raw UTF-8 in the request target, so the README percent-encodes through curl."""
    for line in tour_script(README.read_text(encoding="utf-8"), README_BASE).splitlines():
        for url in re.findall(r'"(https?://[^"]*|\$B/[^"]*)"', line):
            assert not re.search(r"[^\x00-\x7f]", url), f"raw non-ASCII in a URL: {line}"


def _demo_loaded(tmp_path: Path, settings) -> Path:
    data = tmp_path / "checkout"
    (data / ".data").mkdir(parents=True)
    settings.DATA_DIR = data / ".data"
    settings.GEOPLATFORM_IMAGERY_DIR = data / ".data" / "imagery"
    call_command("demo")
    # the reader's own register for batch geocoding (the README says: a CSV of yours with an address column)
    (data / "register.csv").write_text("credit_code,address\nA1,示范市东城区长安街15号\nA2,学院路41号院2号楼\n",
                                       encoding="utf-8")
    return data


@pytest.mark.django_db(transaction=True)
def test_readme_curl_tour_answers_as_written(tmp_path, settings):
    checkout = _demo_loaded(tmp_path, settings)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(CURL_SHIM)
    (bin_dir / "curl").chmod(0o755)
    log = tmp_path / "tour.jsonl"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "REAL_CURL": shutil.which("curl"),
           "TOUR_LOG": str(log), "GEOPLATFORM_IMAGERY_DIR": str(settings.GEOPLATFORM_IMAGERY_DIR)}
    with live_server(env={"GEOPLATFORM_DATA_DIR": str(settings.DATA_DIR),
                          "GEOPLATFORM_IMAGERY_DIR": str(settings.GEOPLATFORM_IMAGERY_DIR)}) as base:
        assert get(base + "/healthz")[0] == 200
        script = tour_script(README.read_text(encoding="utf-8"), base)
        result = subprocess.run(["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True,
                                timeout=300)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls, result.stderr
    problems = []
    met = set()
    for call in calls:
        command = " ".join(call["argv"])
        matches = [i for i, (pattern, _s, _b) in enumerate(EXPECTED) if re.search(pattern, command)]
        if not matches:
            problems.append(f"no expectation for: {command}")
            continue
        index = matches[0]
        met.add(index)
        _fragment, status, body = EXPECTED[index]
        if call["status"] != status or body not in call["body"]:
            problems.append(f"{command}\n  -> {call['status']} {call['body'][:300]}")
    problems += [f"never called: {EXPECTED[i][0]}" for i in range(len(EXPECTED)) if i not in met]
    assert not problems, "\n".join(problems) + "\n" + result.stderr[-2000:]



def _raw_request(base: str, target: bytes, key: str) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key.encode()
                     + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.django_db(transaction=True)
def test_raw_utf8_in_request_target_gets_400_and_percent_encoded_is_served(api_key):
    """Decision: raw UTF-8 in the request line is refused, as the README says.

    RFC 9112 allows only ASCII in a request target; uvicorn's HTTP parsers (httptools and h11) reject
    anything else before the application sees the request, so the platform cannot repair it. Browsers,
    QGIS, GDAL and HTTP libraries percent-encode by themselves; curl sends what it is given, hence
    `curl -G --data-urlencode` in the README.
    """
    _row, key = api_key
    with live_server() as base:
        raw = _raw_request(base, "/api/catalog/?q=道路".encode(), key)
        encoded = _raw_request(base, b"/api/catalog/?q=" + quote("道路").encode(), key)
    assert raw.startswith(b"HTTP/1.1 400") and b"Invalid HTTP request received" in raw
    assert encoded.startswith(b"HTTP/1.1 200") and b'"results"' in encoded
