import hashlib
import hmac

import pytest
from django.test import override_settings

from apikeys.keys import tokens as keys

PEPPER_OLD = "old:" + "b2xkLXBlcHBlci0zMi1ieXRlcy1sb25nLS0tLS0tLSE="
PEPPER_NEW = "new:" + "bmV3LXBlcHBlci0zMi1ieXRlcy1sb25nLS0tLS0tLSE="


def _key(environment="production"):
    return keys.assemble(
        environment=environment, public_id=keys.new_public_id(), secret=keys.new_secret()
    )


def test_each_environment_has_its_own_prefix():
    assert _key("development").startswith("cnsl_dev_")
    assert _key("production").startswith("cnsl_prod_")
    assert keys.parse(_key("development")).environment == "development"


def test_secret_carries_at_least_256_bits():
    secret = keys.new_secret()
    assert len(secret) == keys.SECRET_LENGTH
    assert 62**keys.SECRET_LENGTH >= 2**256
    assert len({keys.new_secret() for _ in range(200)}) == 200


@pytest.mark.parametrize("position", [12, 30, -1, -7])
def test_a_changed_character_fails_the_checksum(position):
    key = _key()
    char = key[position]
    replacement = "A" if char != "A" else "B"
    tampered = key[:position] + replacement + (key[position + 1 :] if position != -1 else "")
    with pytest.raises(keys.MalformedKey):
        keys.parse(tampered)


@pytest.mark.parametrize(
    "value",
    ["", "cnsl_prod_", "sk-" + "a" * 60, None, 42, "cnsl_test_" + "a" * 63, "x" * 5000],
)
def test_strings_that_are_not_keys_are_malformed(value):
    with pytest.raises(keys.MalformedKey):
        keys.parse(value)


def test_checksum_is_crc32_of_the_body_in_base62():
    key = _key()
    body = key[: -keys.CHECKSUM_LENGTH]
    assert keys.checksum(body) == key[-keys.CHECKSUM_LENGTH :]


def test_secret_is_stored_as_hmac_sha256_with_the_primary_pepper():
    with override_settings(API_KEY_PEPPERS=f"{PEPPER_NEW},{PEPPER_OLD}"):
        digest, pepper_id = keys.secret_hash("abc")
        table, _ = keys.peppers()
    assert pepper_id == "new"
    assert digest == hmac.new(table["new"], b"abc", hashlib.sha256).hexdigest()


def test_secret_hashed_with_an_older_pepper_still_matches_after_rotation():
    with override_settings(API_KEY_PEPPERS=PEPPER_OLD):
        digest, pepper_id = keys.secret_hash("abc")
    with override_settings(API_KEY_PEPPERS=f"{PEPPER_NEW},{PEPPER_OLD}"):
        assert keys.secret_matches("abc", stored_hash=digest, pepper_id=pepper_id)
        assert not keys.secret_matches("abd", stored_hash=digest, pepper_id=pepper_id)
    with override_settings(API_KEY_PEPPERS=PEPPER_NEW):
        # A retired pepper no longer verifies anything.
        assert not keys.secret_matches("abc", stored_hash=digest, pepper_id=pepper_id)


def test_display_shows_prefix_public_id_and_last_four_only():
    shown = keys.display(environment="production", public_id="ABCDEFGHIJKL", last_four="wxyz")
    assert shown == "cnsl_prod_ABCDEFGHIJKL_…wxyz"
