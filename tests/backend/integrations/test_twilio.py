from twilio.request_validator import RequestValidator

from backend.integrations.twilio import TwilioSignature

TOKEN = "12345"
PARAMS = {"From": "whatsapp:+5215512345678", "Body": "ya llegué", "MessageSid": "SM" + "a" * 32}


def test_a_signature_made_by_twilios_sdk_is_valid() -> None:
    url = "https://gym.example.com/webhooks/twilio/whatsapp"
    signature = RequestValidator(TOKEN).compute_signature(url, PARAMS)
    assert TwilioSignature(TOKEN).is_valid(url, PARAMS, signature)


def test_twilio_may_sign_with_or_without_the_default_port() -> None:
    signer = RequestValidator(TOKEN)
    with_port = signer.compute_signature("https://gym.example.com:443/hook", PARAMS)
    without_port = signer.compute_signature("https://gym.example.com/hook", PARAMS)
    check = TwilioSignature(TOKEN)
    assert check.is_valid("https://gym.example.com/hook", PARAMS, with_port)
    assert check.is_valid("https://gym.example.com:443/hook", PARAMS, without_port)


def test_forged_missing_or_tampered_signatures_are_refused() -> None:
    url = "https://gym.example.com/hook"
    check = TwilioSignature(TOKEN)
    signature = RequestValidator(TOKEN).compute_signature(url, PARAMS)
    assert not check.is_valid(url, PARAMS, "")
    assert not check.is_valid(url, {**PARAMS, "Body": "otra cosa"}, signature)
    assert not check.is_valid(url, PARAMS, RequestValidator("other").compute_signature(url, PARAMS))
    assert not check.is_valid(url, PARAMS, "ñ" + signature[1:])
