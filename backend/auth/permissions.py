"""The permission matrix: what each staff role may do, and what API keys may be granted."""

from __future__ import annotations

from typing import Final

PERMISSIONS: Final = (
    "members:read",
    "members:write",
    "plans:read",
    "plans:write",
    "subscriptions:read",
    "subscriptions:write",
    "payment_methods:read",
    "payment_methods:write",
    "invoices:read",
    "invoices:write",
    "cfdi:read",
    "cfdi:write",
    "reports:read",
    "classes:read",
    "classes:write",
    "referrals:read",
    "referrals:write",
    "handoff:read",
    "handoff:write",
    "privacy:read",
    "privacy:write",
    "settings:read",
    "settings:write",
    "api_keys:manage",
    "staff:manage",
)

# Granting keys or staff accounts stays with people; an integration key never holds them.
API_KEY_SCOPES: Final = frozenset(PERMISSIONS) - {"api_keys:manage", "staff:manage"}

_MANAGER = frozenset(PERMISSIONS) - {"api_keys:manage", "staff:manage"}
# Front desk: signs people up, takes payments, books classes; no prices, money reports or
# invoice corrections.
_STAFF = frozenset(
    {
        "members:read",
        "members:write",
        "plans:read",
        "subscriptions:read",
        "subscriptions:write",
        "payment_methods:read",
        "payment_methods:write",
        "invoices:read",
        "cfdi:read",
        "classes:read",
        "classes:write",
        "referrals:read",
        "handoff:read",
        "handoff:write",
        "settings:read",
    }
)
# Trainers see who is who and run classes; they change nothing about members or money.
_TRAINER = frozenset({"members:read", "plans:read", "classes:read", "classes:write"})

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "owner": frozenset(PERMISSIONS),
    "manager": _MANAGER,
    "staff": _STAFF,
    "trainer": _TRAINER,
}


def permissions_of(role: str) -> frozenset[str]:
    """The permissions of a role; an unknown role has none."""
    return ROLE_PERMISSIONS.get(role, frozenset())
