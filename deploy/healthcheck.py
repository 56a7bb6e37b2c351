"""The image's health check: ready means /readyz answers 200 (the database reachable and migrated, the signing
keys present), not merely that the process is up. Python's standard library only: the image has no curl.
ACCESSDESK_HEALTHCHECK_URL follows a server started on another address than the image's default command."""

import os
import sys
import urllib.request

url = os.environ.get("ACCESSDESK_HEALTHCHECK_URL", "http://127.0.0.1:8000/readyz")
try:
    urllib.request.urlopen(url, timeout=4).close()
except Exception as exc:  # noqa: BLE001 - any failure is "not ready", said in one line
    sys.exit(f"not ready: {url}: {exc}")
