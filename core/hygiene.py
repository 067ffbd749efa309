"""Input hygiene at the edge (SPEC §6): malformed input of any kind is a 400, never a 500.

One place refuses what no field of this product accepts, before any view or form sees it:

- NUL characters and unpaired surrogates, in any string: the path, query keys and values, form
  fields, JSON keys and strings (PostgreSQL cannot store either; Python cannot encode the
  second); in the path, query string and form body also bytes that are not UTF-8, which is how
  a lone surrogate arrives there (`%ED%A0%80`; Django would quietly turn it into U+FFFD);
- JSON nested deeper than `MAX_DEPTH` levels;
- JSON numbers beyond what every reader keeps exactly: integers outside ±(2**53 - 1), and floats
  that are not finite or whose magnitude is beyond 2**53 (I-JSON, RFC 7493);
- timestamps before year 1 or after 9998 (`check_datetime_range`; parsers of dates call it).

How a refusal reaches the caller:
- REST (`/v1/...`): the middleware only marks the request (`request.malformed`), and
  `WellFormedRequest`, a DRF permission placed after authentication, answers the 400, so a bad
  key is still a 401 first. JSON bodies go through `JSONParser` (lazily, after authentication).
  The decision endpoint's lean path calls `loads` itself, after its key check.
- Console and Django admin: the middleware answers a 400 page at once.
"""

import json
import math
import re
import unicodedata
from datetime import UTC
from urllib.parse import unquote_to_bytes

from django.http import HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, parsers, permissions

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1
MAX_SAFE_FLOAT = float(2**53)
MIN_YEAR, MAX_YEAR = 1, 9998

# In JSON text a NUL or a surrogate can only arrive escaped (\u0000, \ud800-\udfff): raw ones
# are invalid JSON or invalid UTF-8. Finding no such escape means no string needs a walk.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
# A number that may be out of range has 16 or more digits in a row, or is written as a float
# (a digit followed by ".", "e" or "E"). Matches inside strings only cost a walk.
_SUSPECT_NUMBER = re.compile(rb"[0-9]{16}|[0-9][.eE]")


class MalformedInput(ValueError):
    """Input no endpoint accepts; the message names where it is and what is wrong."""


def text_problem(value):
    """Why a string cannot be accepted, or None."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (invalid Unicode)"
    return None


def name_problem(value):
    """Why a display name (a workspace's, an organization's) cannot be accepted, or None: it is
    shown in lists and in email subjects, so it holds no line breaks, tabs or other control
    characters."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return "Use one line without control characters (line breaks, tabs)."
    return None


def check_text(value, where):
    problem = text_problem(value)
    if problem:
        raise MalformedInput(f"{where}: {problem}; remove it." if where else f"{problem}; remove it.")


def _number_problem(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return f"the number {value} is out of range (at most {MAX_SAFE_INTEGER:,} either side of zero)"
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_SAFE_FLOAT:
            return f"the number {value!r} is out of range (at most {MAX_SAFE_INTEGER:,} either side of zero)"
    return None


def _path(where, key):
    return f"{where}.{key}" if where else str(key)


def check_json(value, where="", depth=1, *, strings=True):
    """Walk a parsed JSON value: depth, numbers, and (when `strings`) every key and string."""
    if depth > MAX_DEPTH:
        raise MalformedInput(f"The JSON is nested more than {MAX_DEPTH} levels deep; flatten it.")
    if isinstance(value, dict):
        for key, item in value.items():
            if strings:
                check_text(key, _path(where, "(a key)"))
            check_json(item, _path(where, key), depth + 1, strings=strings)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json(item, f"{where}[{index}]", depth + 1, strings=strings)
    elif isinstance(value, str):
        if strings:
            check_text(value, where)
    else:
        problem = _number_problem(value)
        if problem:
            raise MalformedInput(f"{where}: {problem}." if where else f"{problem}.")


def _refuse_constant(name):
    raise MalformedInput(f"{name} is not a JSON number; send a finite number.")


def loads(raw):
    """Parse a JSON body (bytes or str) and check it; raises MalformedInput with a message that
    says what to fix. An empty body is an empty object; whitespace alone is not JSON.

    The checks cost a walk over the parsed value only when the text gives a reason: an escape
    that may be a NUL or a surrogate, more than MAX_DEPTH brackets, or a number that may be out
    of range (so a small decision body is never walked, and a usage batch only for its depth).
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if not raw:
        return {}
    if not raw.strip():
        raise MalformedInput("The request body is only whitespace, which is not JSON; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"The request body is not UTF-8: {exc.reason} at byte {exc.start}.") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise MalformedInput(f"The JSON is nested more than {MAX_DEPTH} levels deep; flatten it.") from None
    except MalformedInput:
        raise
    except ValueError as exc:
        raise MalformedInput(f"The request body is not valid JSON: {exc}") from None
    if _SUSPECT_ESCAPE.search(raw) or _SUSPECT_NUMBER.search(raw):
        check_json(value, strings=True)
    elif raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise MalformedInput(f"The JSON is nested more than {MAX_DEPTH} levels deep; flatten it.")
    return value


def _deeper_than(value, limit):
    """Whether containers nest more than `limit` levels (visits containers only)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if type(item) is dict else item if type(item) is list else ()
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def check_datetime_range(value, where):
    """A parsed datetime must lie within years 1..9998 in UTC too (converting near the ends of
    the calendar overflows)."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value
    except OverflowError:
        utc = None
    if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR or not MIN_YEAR <= value.year <= MAX_YEAR:
        raise MalformedInput(f"{where}: {value.isoformat()} is out of range; use a date between years "
                             f"{MIN_YEAR} and {MAX_YEAR}.")
    return value


# --- where requests come in ------------------------------------------------------------------


NOT_UTF8 = "contains an unpaired surrogate or bytes that are not UTF-8 (invalid Unicode)"


def _not_utf8(raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _encoded_pairs_problem(raw, what):
    """The first name or value of `a=1&b=2` bytes whose percent-decoded bytes are not UTF-8.

    Django decodes such bytes with U+FFFD in their place, so a lone surrogate sent as its UTF-8
    style bytes (`%ED%A0%80`) would otherwise become a silent replacement character.
    """
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        if _not_utf8(unquote_to_bytes(name.replace(b"+", b" "))) or \
                _not_utf8(unquote_to_bytes(value.replace(b"+", b" "))):
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
            return f"{what} {key!r}: {NOT_UTF8}; remove it."
    return None


def _raw_bytes_problem(request):
    """Bytes of the path, query string or form body that are not UTF-8.

    Django keeps such bytes of the path percent-encoded in `path_info` (`/a/%ED%A0%80/`), so the
    path is checked percent-decoded: a literal `%ED%A0%80` typed into a path (sent as
    `%25ED...`) is refused too, which no id of ours can contain anyway.
    """
    if _not_utf8(unquote_to_bytes(request.path_info)):
        return f"The URL path {NOT_UTF8}; remove it."
    environ = getattr(request, "environ", None) or {}
    try:
        query = environ.get("QUERY_STRING", "").encode("iso-8859-1")  # WSGI: the bytes as latin-1
    except UnicodeEncodeError:
        query = b""
    problem = _encoded_pairs_problem(query, "Query parameter") if query else None
    if problem is None and request.method == "POST" and \
            request.content_type == "application/x-www-form-urlencoded":
        problem = _encoded_pairs_problem(request.body, "Form field")
    return problem


def _admin_date_problem(key, value):
    """The Django admin reads dates from its address (`created_at__year=`, `revoked_at__gte=`) and
    overflows near the ends of the calendar: such a value is refused before the admin sees it."""
    if key.endswith("__year"):
        if value.isdigit() and not MIN_YEAR <= int(value) <= MAX_YEAR:
            return f"Query parameter {key!r}: year {value} is out of range; use a year between {MIN_YEAR} and " \
                   f"{MAX_YEAR}."
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None  # not a date: the admin says so itself
    if parsed is not None:
        try:
            check_datetime_range(parsed, f"Query parameter {key!r}")
        except MalformedInput as exc:
            return str(exc)
    return None


def request_problem(request):
    """The first malformed part of a request's path, query string or form body, or None."""
    problem = text_problem(request.path)
    if problem:
        return f"The URL path {problem}; remove it."
    admin = request.path.startswith("/admin/")
    for key, values in request.GET.lists():
        for value in (key, *values):
            problem = text_problem(value)
            if problem:
                return f"Query parameter {key!r}: {problem}; remove it."
        for value in values if admin else ():
            problem = _admin_date_problem(key, value)
            if problem:
                return problem
    if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",
                                                             "multipart/form-data"):
        try:
            fields = request.POST.lists()
        except MultiPartParserError as exc:
            return f"The form body is not valid {request.content_type}: {exc}."
        for key, values in fields:
            for value in (key, *values):
                problem = text_problem(value)
                if problem:
                    return f"Form field {key!r}: {problem}; remove it."
    return _raw_bytes_problem(request)


class HygieneMiddleware:
    """Refuses malformed paths, query strings and form bodies (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = request_problem(request)
        if problem is not None:
            if request.path.startswith("/v1/"):
                request.malformed = problem  # answered after authentication (WellFormedRequest)
            else:
                html = render_to_string("400.html", {"message": problem}, request=None)
                return HttpResponseBadRequest(html)
        return self.get_response(request)


class WellFormedRequest(permissions.BasePermission):
    """DRF permission, after authentication: a request the middleware marked malformed is a 400."""

    def has_permission(self, request, view):
        problem = getattr(request._request, "malformed", None)
        if problem:
            raise exceptions.ValidationError(problem)
        return True


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with `loads`' limits: deep, NUL, surrogate or out-of-range input is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return loads(raw)
        except MalformedInput as exc:
            raise exceptions.ParseError(str(exc)) from None
