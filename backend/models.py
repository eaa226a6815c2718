"""Every model, imported once so Alembic and the tests see the whole metadata."""

from backend.billing.models import Invoice, Plan, Subscription, plan_locations
from backend.checkins.models import CheckIn
from backend.conversations.models import Conversation, Message
from backend.db import Base
from backend.gyms.models import Gym, Location, StaffUser
from backend.members.models import AuditEntry, Member, MemberEvent
from backend.messaging.models import OutboxMessage

__all__ = [
    "AuditEntry",
    "Base",
    "CheckIn",
    "Conversation",
    "Gym",
    "Invoice",
    "Location",
    "Member",
    "MemberEvent",
    "Message",
    "OutboxMessage",
    "Plan",
    "StaffUser",
    "Subscription",
    "plan_locations",
]
