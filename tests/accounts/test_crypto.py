import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from accounts.crypto import (
    DecryptionError,
    check_encryption_keys,
    check_encryption_keys_are_random,
    get_keyring,
    parse_keys,
    token_key_id,
)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


AD = b"accounts_user.name"


def test_round_trip_uses_the_primary_key_id():
    ring = parse_keys(f"new:{_key()},old:{_key()}")
    token = ring.encrypt("Ada Lovelace", associated_data=AD)
    assert token.startswith("enc1:new:")
    assert "Ada" not in token
    assert ring.decrypt(token, associated_data=AD) == "Ada Lovelace"


def test_same_plaintext_encrypts_to_different_tokens():
    ring = parse_keys(f"k:{_key()}")
    assert ring.encrypt("x", associated_data=AD) != ring.encrypt("x", associated_data=AD)


def test_older_key_still_decrypts_after_a_new_primary_is_prepended():
    old = f"old:{_key()}"
    token = parse_keys(old).encrypt("secret", associated_data=AD)
    assert parse_keys(f"new:{_key()},{old}").decrypt(token, associated_data=AD) == "secret"


def test_tampered_ciphertext_raises():
    ring = parse_keys(f"k:{_key()}")
    token = ring.encrypt("hello", associated_data=AD)
    prefix, kid, payload = token.split(":", 2)
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[-1] ^= 0x01
    tampered = f"{prefix}:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring.decrypt(tampered, associated_data=AD)


def test_truncated_or_garbled_token_raises():
    ring = parse_keys(f"k:{_key()}")
    with pytest.raises(DecryptionError):
        ring.decrypt("enc1:k:AAAA", associated_data=AD)
    with pytest.raises(DecryptionError):
        ring.decrypt("enc1:k:not base64 at all!", associated_data=AD)


def test_ciphertext_moved_to_another_column_raises():
    ring = parse_keys(f"k:{_key()}")
    token = ring.encrypt("203.0.113.9", associated_data=b"accounts_auditevent.ip_address")
    with pytest.raises(DecryptionError, match="wrong table or column"):
        ring.decrypt(token, associated_data=b"apikeys_apikey.last_used_ip")


def test_wrong_key_under_the_same_id_raises():
    token = parse_keys(f"k:{_key()}").encrypt("hello", associated_data=AD)
    with pytest.raises(DecryptionError, match="failed authentication"):
        parse_keys(f"k:{_key()}").decrypt(token, associated_data=AD)


def test_unknown_key_id_raises_naming_it():
    token = parse_keys(f"gone:{_key()}").encrypt("hello", associated_data=AD)
    with pytest.raises(DecryptionError, match="'gone', which is not in ENCRYPTION_KEYS"):
        parse_keys(f"k:{_key()}").decrypt(token, associated_data=AD)


def test_plaintext_is_not_accepted_as_a_token():
    with pytest.raises(DecryptionError, match="not an encrypted token"):
        parse_keys(f"k:{_key()}").decrypt("Ada Lovelace", associated_data=AD)
    with pytest.raises(DecryptionError):
        token_key_id("plain")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "ENCRYPTION_KEYS is empty"),
        (" , ", "ENCRYPTION_KEYS is empty"),
        ("justbase64", "must be 'kid:base64key'"),
        (":" + base64.b64encode(b"x" * 32).decode(), "must be 'kid:base64key'"),
        ("k:", "must be 'kid:base64key'"),
        ("k 1:" + base64.b64encode(b"x" * 32).decode(), "key id 'k 1' must be"),
        ("k:not*base64", "not valid base64"),
        ("k:" + base64.b64encode(b"x" * 16).decode(), "must decode to 32 bytes"),
        (
            "k:{0},k:{0}".format(base64.b64encode(b"x" * 32).decode()),
            "lists key id 'k' twice",
        ),
    ],
)
def test_malformed_key_setting_is_improperly_configured(spec, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_keys(spec)


def test_keyring_follows_the_setting_at_call_time():
    with override_settings(ENCRYPTION_KEYS=f"first:{_key()}"):
        assert get_keyring().primary_kid == "first"
    with override_settings(ENCRYPTION_KEYS=f"second:{_key()}"):
        assert get_keyring().primary_kid == "second"


def test_system_check_reports_a_bad_key_setting():
    with override_settings(ENCRYPTION_KEYS="nonsense"):
        errors = check_encryption_keys()
    assert [e.id for e in errors] == ["accounts.E001"]
    assert check_encryption_keys() == []


def test_generate_encryption_key_prints_a_usable_entry(capsys):
    call_command("generate_encryption_key")
    entry = capsys.readouterr().out.strip()
    ring = parse_keys(entry)
    assert ring.primary_kid == entry.split(":", 1)[0]
    assert ring.decrypt(ring.encrypt("x", associated_data=AD), associated_data=AD) == "x"


def test_generate_encryption_key_gives_a_new_key_each_time(capsys):
    call_command("generate_encryption_key", kid="prod2")
    first = capsys.readouterr().out.strip()
    call_command("generate_encryption_key", kid="prod2")
    second = capsys.readouterr().out.strip()
    assert first.startswith("prod2:") and second.startswith("prod2:")
    assert first != second


def test_deploy_check_refuses_a_typed_key_such_as_the_development_default():
    typed = base64.b64encode(b"development-key-not-production!!").decode()
    with override_settings(ENCRYPTION_KEYS=f"new:{_key()},dev1:{typed}"):
        errors = check_encryption_keys_are_random()
    assert [(e.id, "'dev1'" in e.msg) for e in errors] == [("accounts.E003", True)]
    with override_settings(ENCRYPTION_KEYS=f"new:{_key()}"):
        assert check_encryption_keys_are_random() == []


def test_files_round_trip_bound_to_their_owner_and_tampering_is_detected():
    old, new = _key(), _key()
    ring = parse_keys(f"a:{old}")
    sealed = ring.encrypt_bytes(b"\x89PNG data", associated_data=b"file-1")
    assert sealed.startswith(b"enc1:a:") and b"PNG data" not in sealed
    rotated = parse_keys(f"b:{new},a:{old}")
    assert rotated.decrypt_bytes(sealed, associated_data=b"file-1") == b"\x89PNG data"
    for blob, associated_data in (
        (sealed, b"file-2"),
        (sealed[:-1] + bytes([sealed[-1] ^ 1]), b"file-1"),
        (sealed[:20], b"file-1"),
        (b"plain bytes", b"file-1"),
    ):
        with pytest.raises(DecryptionError):
            rotated.decrypt_bytes(blob, associated_data=associated_data)
    with pytest.raises(DecryptionError):
        parse_keys(f"b:{new}").decrypt_bytes(sealed, associated_data=b"file-1")
