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
from backend.cfdi.models import CfdiDocument, CfdiGlobalItem, GymFiscalProfile, MemberFiscalProfile
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
from backend.handoff.models import HandoffTicket
from backend.members.models import AuditEntry, Member, MemberEvent
from backend.messaging.models import OutboxMessage
from backend.payments.models import (
    GymPaymentAccount,
    Payment,
    PaymentAlert,
    PaymentMethod,
    PaymentNotification,
    PaymentRequest,
    payment_request_invoices,
)
from backend.privacy.models import PrivacyRequest
from backend.referrals.models import (
    FeatureGrant,
    Referral,
    ReferralCode,
    ReferralProgram,
    ReferralReward,
)
from backend.selfservice.models import GymHoliday, SelfServiceSettings

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "CfdiDocument",
    "CfdiGlobalItem",
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
    "FeatureGrant",
    "Gym",
    "GymFiscalProfile",
    "GymHoliday",
    "GymPaymentAccount",
    "HandoffTicket",
    "Invoice",
    "InvoiceLine",
    "InvoiceSeries",
    "Location",
    "Member",
    "MemberEvent",
    "MemberFiscalProfile",
    "Message",
    "OutboxMessage",
    "Payment",
    "PaymentAlert",
    "PaymentMethod",
    "PaymentNotification",
    "PaymentRequest",
    "Plan",
    "PrivacyRequest",
    "Referral",
    "ReferralCode",
    "ReferralProgram",
    "ReferralReward",
    "RefreshToken",
    "SelfServiceSettings",
    "StaffUser",
    "Subscription",
    "SubscriptionAddon",
    "SubscriptionSeat",
    "class_type_plans",
    "payment_request_invoices",
    "plan_locations",
]
