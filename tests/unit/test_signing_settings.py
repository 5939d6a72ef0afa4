"""Settings [security], [signatures] and [alarms] max_shelve_s; the password hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from envmon.errors import ConfigError
from envmon.settings import load_settings
from envmon.signing.passwords import credential_digest, hash_password, verify_password
from envmon.signing.rules import DEFAULT_MEANINGS, SecurityPolicy
from envmon.signing.testing import cheap_hashes

CONFIG = Path(__file__).parents[2] / "config" / "envmon.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "envmon.toml"
    path.write_text(text)
    return path


class TestSigningSettings:
    def test_defaults(self, tmp_path: Path) -> None:
        """An empty file gives the contract's defaults."""
        s = load_settings(write(tmp_path, ""))
        assert s.security.policy() == SecurityPolicy(10, 5, 900.0, 180)
        assert tuple(s.signatures.meanings) == DEFAULT_MEANINGS
        assert s.alarms.max_shelve_s == 8 * 3600

    def test_example_config_documents_the_sections(self) -> None:
        """config/envmon.toml sets every new key, at its default."""
        s = load_settings(CONFIG)
        assert s.security.policy() == SecurityPolicy()
        assert tuple(s.signatures.meanings) == DEFAULT_MEANINGS
        text = CONFIG.read_text()
        assert "[security]" in text and "[signatures]" in text and "max_shelve_s" in text

    def test_environment_overrides(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENVMON_SECURITY__LOCKOUT_S overrides the file."""
        monkeypatch.setenv("ENVMON_SECURITY__LOCKOUT_S", "60")
        assert (
            load_settings(write(tmp_path, "[security]\nlockout_s = 900\n")).security.lockout_s == 60
        )

    @pytest.mark.parametrize(
        ("text", "named"),
        [
            ("[security]\nmin_password_length = 4\n", "security.min_password_length"),
            ("[security]\nmax_failed_attempts = 0\n", "security.max_failed_attempts"),
            ("[security]\npassword_max_age_days = -1\n", "security.password_max_age_days"),
            ("[security]\npepper = 1\n", "security.pepper: unknown key"),
            ('[signatures]\nmeanings = ["a", "a"]\n', "meanings must be distinct"),
            ("[signatures]\nmeanings = []\n", "at least one meaning"),
            ("[alarms]\nmax_shelve_s = 0\n", "alarms.max_shelve_s"),
        ],
    )
    def test_bad_values_are_named(self, tmp_path: Path, text: str, named: str) -> None:
        """A wrong value is refused naming the file and key."""
        with pytest.raises(ConfigError, match=named):
            load_settings(write(tmp_path, text))


class TestPasswords:
    def test_hash_is_argon2id_salted_and_verifies(self) -> None:
        """Hashes are argon2id with a fresh salt each time; only the password verifies."""
        with cheap_hashes():
            a, b = hash_password("correct horse"), hash_password("correct horse")
        assert a.startswith("$argon2id$") and a != b
        assert verify_password(a, "correct horse") and not verify_password(a, "correct house")

    def test_default_profile_is_argon2_cffis(self) -> None:
        """Outside tests the profile is argon2-cffi's recommended one (RFC 9106 low memory)."""
        assert hash_password("correct horse").startswith("$argon2id$v=19$m=65536,t=3,p=4$")

    def test_garbage_hash_does_not_verify(self) -> None:
        """A stored value that is not a hash never verifies (and does not raise)."""
        assert not verify_password("not a hash", "anything")

    def test_digest_is_not_the_hash(self) -> None:
        """The audit trail's digest is a SHA-256, not the hash or its salt."""
        with cheap_hashes():
            stored = hash_password("correct horse")
        digest = credential_digest(stored)
        assert len(digest) == 64 and stored.split("$")[-2] not in digest
