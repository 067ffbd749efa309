from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from axes.signals import user_locked_out

        from .signin import on_user_locked_out
        from .two_factor import on_user_logged_in

        user_locked_out.connect(on_user_locked_out, dispatch_uid="orgs.signin.on_user_locked_out")
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="orgs.two_factor.on_user_logged_in")
