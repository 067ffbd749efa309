"""schemathesis hooks for scripts/fuzz_api.py (loaded through SCHEMATHESIS_HOOKS).

A fuzz run authenticates with one key. Through stateful links it can find that key's own id
(in the API key list) and revoke or pause it, which would turn every later request into a 401
and end the useful part of the run. The run is the caller here, not the system under test, so
such a request is sent with an id no key has instead: revoking other keys is still fuzzed.
"""

import hashlib
import os

import schemathesis

AUTH_KEY = os.environ.get("FUZZ_AUTH_KEY", "")
_OWN_ID = {}  # the id of the key this run authenticates with, learnt from responses


@schemathesis.hook
def after_call(context, case, response):
    """Learn the run's own key id from any API key list or object answered."""
    if _OWN_ID or not AUTH_KEY or "api_keys" not in case.operation.path:
        return
    try:
        body = response.json()
    except ValueError:
        return
    rows = body.get("data", [body]) if isinstance(body, dict) else []
    hint = AUTH_KEY[-4:]
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and str(row.get("partial_key_hint", "")).endswith(hint) and row.get("id"):
            _OWN_ID["id"] = row["id"]


@schemathesis.hook
def before_call(context, case, kwargs):
    """Never revoke, pause or archive the key the run authenticates with."""
    params = case.path_parameters or {}
    key_id = params.get("key_id") or params.get("id")
    if key_id and key_id == _OWN_ID.get("id") and "api_keys" in case.operation.path and case.method.upper() == "POST":
        params["key_id" if "key_id" in params else "id"] = "apikey_" + hashlib.sha256(key_id.encode()).hexdigest()[:24]
