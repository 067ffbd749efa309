"""Public identifiers: a readable prefix and a random base62 string (`wrkspc_3kTM...`)."""

import secrets
import string

BASE62 = string.digits + string.ascii_letters


def random_base62(length=24):
    return "".join(secrets.choice(BASE62) for _ in range(length))


def make_id(prefix, length=24):
    return f"{prefix}_{random_base62(length)}"


class IdFactory:
    """A picklable default for model fields (migrations serialize it by path and args)."""

    def __init__(self, prefix):
        self.prefix = prefix

    def __call__(self):
        return make_id(self.prefix)

    def deconstruct(self):
        return ("core.ids.IdFactory", (self.prefix,), {})

    def __eq__(self, other):
        return isinstance(other, IdFactory) and other.prefix == self.prefix

    def __hash__(self):
        return hash(self.prefix)


def new_request_id():
    return make_id("req", 24)
