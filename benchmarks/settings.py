"""Benchmark-only settings: production settings plus the floor views of benchmarks/urls.py."""

from config.settings.production import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.urls"
