from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # django-axes signals a sign-in lockout; a sign-in decides the session's two-factor step
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in

        from .signin import on_user_locked_out
        from .two_factor import on_user_logged_in

        user_locked_out.connect(on_user_locked_out, dispatch_uid="orgs.signin.on_user_locked_out")
        user_logged_in.connect(on_user_logged_in, dispatch_uid="orgs.two_factor.on_user_logged_in")
