"""Referral programs: personal codes shared on WhatsApp, redemption with fraud rules, and
rewards granted when the referred friend's first invoice is paid."""
