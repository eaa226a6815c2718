from __future__ import annotations

import pytest

from backend.auth.dependencies import Principal, require
from backend.auth.permissions import API_KEY_SCOPES, PERMISSIONS, ROLE_PERMISSIONS
from backend.gyms.models import STAFF_ROLES


def test_every_role_has_an_entry_and_owner_has_everything() -> None:
    assert set(ROLE_PERMISSIONS) == set(STAFF_ROLES)
    assert ROLE_PERMISSIONS["owner"] == frozenset(PERMISSIONS)
    for perms in ROLE_PERMISSIONS.values():
        assert perms <= frozenset(PERMISSIONS)


def test_roles_are_nested_trainer_staff_manager_owner() -> None:
    r = ROLE_PERMISSIONS
    assert r["trainer"] < r["staff"] < r["manager"] < r["owner"]
    assert "members:write" not in r["trainer"]
    assert {"plans:write", "reports:read", "invoices:write"}.isdisjoint(r["staff"])
    assert {"api_keys:manage", "staff:manage"}.isdisjoint(r["manager"])


def test_api_keys_cannot_hold_people_management() -> None:
    assert {"api_keys:manage", "staff:manage"}.isdisjoint(API_KEY_SCOPES)


def test_require_refuses_unknown_permissions_at_import_time() -> None:
    with pytest.raises(ValueError):
        require("members:delete")


def test_actor_names_the_caller() -> None:
    assert Principal(1, "staff", 3, "owner", frozenset()).actor() == "staff:3"
    assert Principal(1, "api_key", 7, None, frozenset()).actor() == "api_key:7"
