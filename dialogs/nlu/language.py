"""Per-message language guess (es/en) from function words; None when there is no signal."""

from __future__ import annotations

from dialogs.nlu.normalize import normalize

_ES = frozenset(
    """
el la los las de del que y en un una por para con mi me te tu es esta estoy quiero hola
gracias como cuanto donde cuando ya si no pero muy bien buenas buenos dias tardes noches
porfa favor ayuda llegue aqui hoy manana pagar debo necesito puedo
""".split()
)
_EN = frozenset(
    """
the an is are am i my you your to of and in on at for with what how much when where
can do does hi hello hey thanks thank please help arrived here today tomorrow pay owe need
want just im it this that
""".split()
)


def detect_language(text: str) -> str | None:
    words = normalize(text).split()
    es = sum(w in _ES for w in words)
    en = sum(w in _EN for w in words)
    if es == en:
        return None
    return "es" if es > en else "en"
