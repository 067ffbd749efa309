"""The invitation link (SPEC §6): the addressee chooses their password, once, within 72 hours."""

from django.contrib.auth import views as auth_views

from ..tokens import invitation_tokens


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """Django's set-password-by-link view with the invitation token (single use: the token is
    derived from the password hash, which choosing a password changes; 72 hours). An account that
    already has a password takes no invitation."""

    token_generator = invitation_tokens
    template_name = "registration/invitation_accept.html"
    success_url = "/login/?password_set=1"
    reset_url_token = "choose-password"

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is not None and user.has_usable_password():
            return None
        return user
