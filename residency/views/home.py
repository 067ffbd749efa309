"""The console's Overview page."""

from django.shortcuts import render

from orgs.views.base import console_page


@console_page
def home(request):
    access = request.access
    return render(request, "console/home.html", {"membership": access.membership, "levels": access.levels()})
