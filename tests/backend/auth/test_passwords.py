from __future__ import annotations

from backend.auth.passwords import generate_password, hash_password, verify_password


def test_argon2id_hash_verifies_only_the_right_password() -> None:
    hashed = hash_password("contraseña segura")
    assert hashed.startswith("$argon2id$")
    assert verify_password("contraseña segura", hashed)
    assert not verify_password("contraseña Segura", hashed)
    assert hash_password("contraseña segura") != hashed  # fresh salt


def test_malformed_and_legacy_hashes_are_refused_not_raised() -> None:
    for bad in ("", "nonsense", "scrypt$16384$8$1$c2FsdA==$aGFzaA==", "$argon2id$v=19$broken"):
        assert not verify_password("x", bad)


def test_generated_passwords_are_long_and_distinct() -> None:
    first, second = generate_password(), generate_password()
    assert len(first) == 16 and first != second
