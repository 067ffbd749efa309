"""Tables of the core package: the shared rate-limit counter (core.ratelimit)."""

from django.db import models


class RateCounter(models.Model):
    """Requests counted in one fixed window for one bucket (a scope and an API key).

    Incremented by one atomic upsert (`core.ratelimit`), so any number of server processes
    share one count and never serve more than the limit in a window.
    """

    bucket = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="Unix time of the window's start, in seconds.")
    hits = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "window_start"], name="ratecounter_bucket_window")]

    def __str__(self):
        return f"{self.bucket} @ {self.window_start}: {self.hits}"
