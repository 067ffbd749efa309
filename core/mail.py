"""Mail backends of our own (Django's framework does the rest)."""

import sys

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend


class StderrEmailBackend(ConsoleEmailBackend):
    """Django's console backend on standard error: with no mail configured (development),
    messages show in the terminal without mixing into a command's output, such as the JSON
    `bootstrap_org --json` prints on standard output."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
