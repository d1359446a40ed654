"""Who is calling: the authenticated user and, for machine clients, their API key."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.request import Request

from predictions.access.api_keys import ApiKeyIdentity


@dataclass(frozen=True)
class Caller:
    user_id: int | None
    username: str = ""
    api_key_id: int | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def throttle_key(self) -> str:
        """Each API key is throttled on its own, apart from its owner's other clients."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return f"user:{self.user_id}"


ANONYMOUS = Caller(user_id=None)


def caller_of(request: Request) -> Caller:
    """The Caller of an authenticated DRF request (ANONYMOUS otherwise). No database query."""
    user = request.user
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    auth = request.auth
    api_key_id = auth.key_id if isinstance(auth, ApiKeyIdentity) else None
    # JWT users (TokenUser) carry the id and username as token claims.
    return Caller(user_id=int(user.pk), username=str(user.username), api_key_id=api_key_id)
