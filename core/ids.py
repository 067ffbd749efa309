"""Public identifiers: a readable prefix and a random base62 string (`wrkspc_3kTM...`)."""

import os
import string

BASE62 = string.digits + string.ascii_letters


def random_base62(length=24):
    """`length` characters from a cryptographically random integer (one os.urandom call; every
    request id is made this way, so it is cheap)."""
    number = int.from_bytes(os.urandom(length * 6 // 8 + 1))
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


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
