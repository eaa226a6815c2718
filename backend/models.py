"""Every model, imported once so Alembic and the tests see the whole metadata."""

from backend.auth.models import ApiKey, RefreshToken
from backend.billing.models import (
    Company,
    CreditEntry,
    DunningNotice,
    Invoice,
    InvoiceLine,
    InvoiceSeries,
    Plan,
    Subscription,
    SubscriptionAddon,
    SubscriptionSeat,
    plan_locations,
)
from backend.checkins.models import CheckIn
from backend.classes.models import (
    ClassBooking,
    ClassSchedule,
    ClassSession,
    ClassSettings,
    ClassType,
    class_type_plans,
)
from backend.conversations.models import Conversation, Message
from backend.db import Base
from backend.gyms.models import Gym, Location, StaffUser
from backend.members.models import AuditEntry, Member, MemberEvent
from backend.messaging.models import OutboxMessage
from backend.payments.models import Payment, PaymentMethod

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "CheckIn",
    "ClassBooking",
    "ClassSchedule",
    "ClassSession",
    "ClassSettings",
    "ClassType",
    "Company",
    "Conversation",
    "CreditEntry",
    "DunningNotice",
    "Gym",
    "Invoice",
    "InvoiceLine",
    "InvoiceSeries",
    "Location",
    "Member",
    "MemberEvent",
    "Message",
    "OutboxMessage",
    "Payment",
    "PaymentMethod",
    "Plan",
    "RefreshToken",
    "StaffUser",
    "Subscription",
    "SubscriptionAddon",
    "SubscriptionSeat",
    "class_type_plans",
    "plan_locations",
]
