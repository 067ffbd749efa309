def console(request):
    """Navigation state for the console layout; only pages that set `request.access` get menus."""
    access = getattr(request, "access", None)
    return {"access": access, "current_org": access.organization if access else None}
