"""Accounts: the stand-in hash an unknown user is checked against costs what a real one does."""

from werkzeug.security import check_password_hash, generate_password_hash

from storage.accounts import DUMMY_HASH


def test_the_unknown_user_hash_has_the_method_and_cost_of_real_hashes():
    method = DUMMY_HASH.split("$", 1)[0]
    assert generate_password_hash("anything").split("$", 1)[0] == method  # e.g. scrypt:32768:8:1
    assert check_password_hash(DUMMY_HASH, "not-a-real-password")
