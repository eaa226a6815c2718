"""Demo data: the `demo` gym with two scripted members, and a year of realistic member history.

Nothing here commits: the caller owns the transaction.

- `demo`: the `demo` gym, its staff and the scripted members Ana and Luis.
- `history`: generated members and their year of visits, invoices and events.
- `persist`: writing member drafts to the database in bulk.
- `model`: the dataclasses they share.
"""

from backend.seed.demo import OWNER_EMAIL, seed_demo
from backend.seed.history import ANA_PHONE, LUIS_PHONE, seed_members
from backend.seed.model import SeedResult

__all__ = ["ANA_PHONE", "LUIS_PHONE", "OWNER_EMAIL", "SeedResult", "seed_demo", "seed_members"]
