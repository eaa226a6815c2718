"""Gym information and member self-service settings: holiday hours, amenities, retention
offers and the privacy notice link."""
