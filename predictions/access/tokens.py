"""JWT token serializers (simplejwt), adapted for stateless verification and safe rotation.

Every login starts a token *family* (the ``fam`` claim); each refresh rotates the
refresh token inside its family. Rotation is atomic: the used token's row is locked
and blacklisted in one transaction, so of N concurrent refreshes of one token exactly
one wins. Presenting a refresh token that was already rotated is a reuse, the mark
of a stolen token (OAuth 2.0 Security BCP, section 4.14): every outstanding refresh
token of the family is blacklisted and the answer is 401.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token, UntypedToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from predictions.access.models import TokenFamilyMember

FAMILY_CLAIM = "fam"
_MAX_USER_ID = 2**63 - 1  # a BigAutoField; larger ids overflow the database driver


def user_id_from(token: Token) -> int:
    """The token's user id as the integer primary key it must be; anything else is an
    invalid token (401), not a database error (500)."""
    value = token.get(api_settings.USER_ID_CLAIM)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or not 0 < value <= _MAX_USER_ID:
        raise InvalidToken("Token contained no recognizable user identification")
    return value


class GatewayTokenUser(TokenUser):
    """``request.user`` of a JWT request (stateless: built from the claims). A validly signed
    token whose user id is not a primary key is refused here (401) instead of failing
    later in a grant query (500)."""

    def __init__(self, token: Token) -> None:
        user_id_from(token)
        super().__init__(token)


def _active_user(token: Token) -> AbstractBaseUser:
    user = get_user_model().objects.filter(pk=user_id_from(token)).first()
    if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
        raise AuthenticationFailed(
            TokenRefreshSerializer.default_error_messages["no_active_account"],
            "no_active_account",
        )
    return user


class _SignedRefreshToken(RefreshToken):
    """Signature, expiry and type verified; the blacklist is checked by ``rotate`` under a
    lock, where a blacklisted token is a reuse, not just an invalid token."""

    def check_blacklist(self) -> None:
        return None


class GatewayTokenObtainPairSerializer(TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user: AbstractBaseUser) -> RefreshToken:
        token = super().get_token(user)
        # Requests are authenticated from the token alone (no user query), so the
        # username the audit log shows must travel in it; access tokens made from
        # this refresh token copy the claim.
        token["username"] = user.get_username()
        token[FAMILY_CLAIM] = uuid.uuid4().hex
        TokenFamilyMember.objects.create(
            token=OutstandingToken.objects.get(jti=token[api_settings.JTI_CLAIM]),
            family=token[FAMILY_CLAIM],
        )
        return token


class GatewayTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = _SignedRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])
        user = _active_user(refresh)
        access = str(refresh.access_token)
        if not rotate(refresh, user):
            raise AuthenticationFailed(
                "Refresh token was already used: every token of this login is revoked, "
                "log in again",
                "token_reused",
            )
        return {"access": access, "refresh": str(refresh)}


class GatewayTokenVerifySerializer(TokenVerifySerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[Any, Any]:
        data = super().validate(attrs)
        _active_user(UntypedToken(attrs["token"]))
        return data


def rotate(refresh: RefreshToken, user: AbstractBaseUser) -> bool:
    """Blacklist ``refresh`` and turn it into its successor in the same family; False (and
    the family revoked) if it had been used already."""
    jti_claim = api_settings.JTI_CLAIM
    family = refresh.get(FAMILY_CLAIM) or refresh[jti_claim]  # tokens from before families
    with transaction.atomic():
        # The row lock serializes concurrent refreshes of one token (on SQLite the
        # IMMEDIATE transaction does); the one-to-one blacklist row is the backstop.
        used, _ = OutstandingToken.objects.get_or_create(
            jti=refresh[jti_claim],
            defaults={
                "user": user,
                "token": str(refresh),
                "expires_at": datetime_from_epoch(refresh["exp"]),
            },
        )
        used = OutstandingToken.objects.select_for_update().get(pk=used.pk)
        if BlacklistedToken.objects.filter(token=used).exists():
            revoke_family(family, also=used)
            return False
        BlacklistedToken.objects.create(token=used)
        refresh[FAMILY_CLAIM] = family
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        successor = OutstandingToken.objects.create(
            user=user,
            jti=refresh[jti_claim],
            token=str(refresh),
            created_at=refresh.current_time,
            expires_at=datetime_from_epoch(refresh["exp"]),
        )
        TokenFamilyMember.objects.create(token=successor, family=family)
    return True


def revoke_family(family: str, *, also: OutstandingToken | None = None) -> int:
    """Blacklist every outstanding refresh token of ``family``; how many were still live."""
    live = OutstandingToken.objects.filter(
        family_member__family=family, blacklistedtoken__isnull=True
    )
    if also is not None:
        live = live | OutstandingToken.objects.filter(pk=also.pk, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    return len(created)
