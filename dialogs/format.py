"""Transitional re-export; the formatting helpers live in backend.format."""

from backend.format import clock, day, distance, join_list, money

__all__ = ["clock", "day", "distance", "join_list", "money"]
