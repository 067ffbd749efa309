def console(request):
    """Navigation state for the console layout; only pages that set `request.access` get menus.

    `levels` is the member's level per admin area (one permission query per request).
    """
    access = getattr(request, "access", None)
    if access is None:
        return {"access": None, "current_org": None, "levels": {}}
    return {"access": access, "current_org": access.organization, "levels": access.levels()}
