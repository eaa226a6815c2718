"""Payments: saved payment methods, payment records, and the provider port."""
