"""JWT token serializers (simplejwt), adapted for stateless verification."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken


class GatewayTokenObtainPairSerializer(TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user: AbstractBaseUser) -> RefreshToken:
        token = super().get_token(user)
        # Requests are authenticated from the token alone (no user query), so the
        # username the audit log shows must travel in it; access tokens made from
        # this refresh token copy the claim.
        token["username"] = user.get_username()
        return token


class GatewayTokenRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            # simplejwt looks the user up with .get(): a deleted user would be a 500.
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None
