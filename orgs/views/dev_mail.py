"""The demo's sent mail (SPEC §6): the files Django's file email backend wrote to
EMAIL_FILE_PATH. Only outside production settings, only with EMAIL_FILE_PATH set, only for
platform staff (superusers); anyone else, and any other configuration, gets a 404."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

MAX_MESSAGES = 100


def _available(request):
    return (not settings.PRODUCTION and settings.EMAIL_FILE_PATH
            and settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend"
            and request.user.is_superuser)


@login_required
def sent_mail(request):
    if not _available(request):
        raise Http404("Not found.")
    folder = Path(settings.EMAIL_FILE_PATH)
    files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    messages_ = [{"name": p.name, "text": p.read_text(errors="replace")} for p in files[:MAX_MESSAGES]]
    return render(request, "dev/sent_mail.html", {"folder": folder, "mails": messages_, "total": len(files)})
