"""Per-message language guess (es/en); None when the message carries no signal ("ok", "👍").

Counts words that belong to one language only (function words and the gym vocabulary
members use), plus spelling cues: ñ, ¿, ¡ and accents are Spanish; "'s", "n't", "'m" are
English. Short replies shared by both ("ok", "no", "gym") decide nothing.
"""

from __future__ import annotations

import re

from dialogs.nlu.normalize import normalize

_ES = frozenset(
    """
el la los las lo del al que y en un una unos unas por para con mi mis me te tu tus su sus
es son esta estoy estas estan soy eres hay ya pero muy bien mas menos tambien porque pq xq
hola gracias grax grasias como cuanto cuanta cuantos donde cuando cual quien que onda
buenas buenos dias tardes noches porfa porfavor favor ayuda ayudame llegue aqui aca hoy
manana ayer pagar pague pago debo deuda adeudo necesito puedo puedes quiero quisiera
queria tengo tiene tienen hacer saber sale simon nel neta wey guey chido padre mande
oye oiga disculpa perdon ahorita luego despues antes semana mes ano horario horarios
abren cierran sucursal clase clases reservar apartar lugar mensualidad membresia plan
planes cambiar cancelar congelar pausar baja factura recibo codigo amigo amiga invitar
datos privacidad borrar eliminar progreso medidas foto escaneo cuerpo peso llegar
entrar gimnasio estoy ando voy vamos ir nos vemos adios chao bye luego cuidate hasta
pasame mandame dime dame checa checar tarjeta efectivo transferencia deposito
si claro va vale orale okey nop nope nel jamas nunca nada tampoco ningun ninguna
asesor persona humano alguien hablar atender recepcion quiero mejor otro otra algo
cuesta cuestan precio precios costo sale salen inscripcion mio mia tuyo
llegando presente vine entrenar registro entrada visitas llevo historial asistencias racha
constante total actual holaa quiubo quihubo holi holis ola saludos cordiales wenas gente
despido adiosito desconecto feliz agradece grcs ayudaa ayudas opciones ver instrucciones
comandos inicio empezar socorro entiendo esto tienes novio pinche prestas dinero receta
manches dejen mandarme manden publicidad desuscribirme escribirme interesa recibir ofertas
detener mensajes desactivar notificaciones apagar recordatorios bloquear vuelvan escribir
molestar acepto promocionales plis parar deja sii sip oki okis acuerdo perfecto eso mero
exacto correcto afirmativo adelante dale pues late arre obvio confirmo confirmado ese esa
mera webo wiwi hazlo procede seguro jalo nelson negativo nanay incorrecto era ni chiste
loco nones hace falta ninguno paso yo mmm andale sipi chale nel ahi cuanto cuando
""".split()
)
_EN = frozenset(
    """
the a an is are am was were be been i my me you your to of and in on at for with what
how much many when where which who can could would should do does did don't dont im i'm
it its it's this that these those there here hi hello hey thanks thank thx ty please pls
plz help arrived here today tomorrow yesterday pay paid owe owed need want wanna gonna
just get got have has had will let let's lets know tell show send give make book
schedule class classes hours open close location address membership plan plans price
prices cost change cancel freeze pause stop invoice receipt code friend invite data
privacy delete progress scan body weight check checking checked yes yeah yep yup nope
sure okay ok fine great cool awesome sorry bye goodbye see later night morning
afternoon evening talk speak someone person human agent staff front desk real my
account balance bill billing payment card cash transfer am not no why who whose
any anything something else also too more less much again still already yet
see gotta go peace ttyl take care cya then guys run sounds good absolutely definitely
correct ahead alright right nope nah way never mind wrong negative unsubscribe opt out
quit spamming turn off notifications leave alone end messages mark attendance history sup
howdy greetings hiya tysm cheers options start write sing song useless recommend movie
order lmao bro thank thanks kinda sorta wanna gotta y'all
""".split()
)
# Shared by both languages (or loanwords on Mexican WhatsApp): never decide.
_BOTH = frozenset(
    {
        "ok",
        "no",
        "gym",
        "bye",
        "plan",
        "spinning",
        "yoga",
        "crossfit",
        "box",
        "a",
        "me",
        "hey",
        "real",
        "bro",
    }
)
_ES = _ES - _BOTH
_EN = _EN - _BOTH
_ES_MARKS = re.compile(r"[ñáéíóúü¿¡]", re.I)
_EN_MARKS = re.compile(r"\b\w+'(?:s|t|m|re|ll|ve|d)\b", re.I)


# How far ahead one language must be for a one- or two-word message to decide: "ya llegué",
# "buenos días" and "I'm here" do; "gracias", "sí", "thanks" and "ok" do not.
CLEAR_MARGIN = 3.0


def _scores(text: str) -> tuple[float, float]:
    sample = text[:1000]
    words = normalize(sample).split()
    es = sum(w in _ES for w in words) + 1.5 * len(_ES_MARKS.findall(sample))
    en = sum(w in _EN for w in words) + 1.5 * len(_EN_MARKS.findall(sample))
    return es, en


def detect_language(text: str) -> str | None:
    """ "es", "en", or None when there is no signal either way."""
    es, en = _scores(text)
    if es == en:
        return None
    return "es" if es > en else "en"


def clear_language(text: str) -> str | None:
    """The language only when the evidence leaves no doubt (see CLEAR_MARGIN), else None:
    for short messages, where one word says little ("gracias" from an English speaker)."""
    es, en = _scores(text)
    if abs(es - en) < CLEAR_MARGIN:
        return None
    return "es" if es > en else "en"
