"""Invitation links (SPEC §6): single use, valid 72 hours, for the addressee only.

Django's password-reset token with its own salt (a password-reset token is no invitation and
the other way round): it is derived from the account's password hash and last sign-in, so it
stops working once a password is chosen, and it expires after PASSWORD_RESET_TIMEOUT (72 hours).
Nothing about it is stored: the link is made when the email is sent, and only the email has it.
"""

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "orgs.tokens.InvitationTokenGenerator"


invitation_tokens = InvitationTokenGenerator()


def invitation_path(user):
    return reverse("invitation_accept", args=[urlsafe_base64_encode(force_bytes(user.pk)),
                                              invitation_tokens.make_token(user)])
