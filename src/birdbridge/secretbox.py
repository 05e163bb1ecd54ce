"""The key that encrypts the sign-ins kept in the state database (promise 8: tokens are never
stored in clear), and the box that uses it.

Where the key comes from, in order:

1. ``BIRDBRIDGE_SECRET_KEY``: a Fernet key (44 url-safe base64 characters). Several keys
   separated by commas rotate: the first encrypts, every one of them decrypts. To rotate, put
   the new key first and keep the old one after it until every sign-in was saved again (a
   refresh or a new sign-in re-encrypts with the first key); then drop the old one.
2. For a SQLite database file, a key file beside it named ``<database file name>.key``
   (``birdbridge.db.key``), created readable by its owner only when missing (``create=True``),
   and refused when other users may read it. It may hold several keys too, one per line or
   comma-separated, the first one encrypting.

For PostgreSQL (any database that is not a file) the variable is the only source: the key must
not sit in the database it protects.

A key's id (the first 8 hex characters of the SHA-256 of the key as written) is stored beside
each encrypted row, so that a key that does not fit can be named without naming the key."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets as random
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from birdbridge.errors import ConfigError
from birdbridge.redaction import register

if TYPE_CHECKING:
    # Imported where used: cryptography loads OpenSSL's binding (megabytes), which a bridge
    # with its tokens in the config never needs.
    from cryptography.fernet import Fernet, MultiFernet

ENV_KEY = "BIRDBRIDGE_SECRET_KEY"
KEY_FILE_SUFFIX = ".key"
NEW_KEY_COMMAND = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


class SecretKeyError(ConfigError):
    """The key that opens the stored sign-ins is missing, malformed, exposed or not the one
    they were stored with. The message names where the key comes from and the fix; it never
    holds a key."""


def new_key() -> str:
    """A new random key, as ``BIRDBRIDGE_SECRET_KEY`` and the key file hold it."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    """The id stored beside what ``key`` encrypts: not secret, and names the key in messages."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:8]


@dataclass(frozen=True)
class SecretBox:
    """Encrypts and decrypts the secrets of one sign-in with the key(s) from ``source``."""

    key_id: str  # the encrypting key's id: stored beside each row, never secret
    source: str  # "BIRDBRIDGE_SECRET_KEY" or the key file's path, for messages
    key_ids: tuple[str, ...] = ()  # every key that decrypts, the encrypting one first
    _fernet: MultiFernet | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_keys(cls, keys: Sequence[str], source: str) -> SecretBox:
        """A box over ``keys`` (the first encrypts, all decrypt); a malformed one is a
        :class:`SecretKeyError` naming its place in ``source``, never its value."""
        keys = [key.strip() for key in keys if key.strip()]
        if not keys:
            fix = (
                "delete it (a new one is made at the next sign-in), or "
                if source != ENV_KEY
                else ""
            )
            raise SecretKeyError(f"{source} holds no key: {fix}{_how_to_make_one(first=False)}")
        from cryptography.fernet import MultiFernet

        register(keys)  # never in a log line, even by mistake
        fernets = [_fernet(key, number, len(keys), source) for number, key in enumerate(keys, 1)]
        ids = tuple(key_id(key) for key in keys)
        return cls(key_id=ids[0], source=source, key_ids=ids, _fernet=MultiFernet(fernets))

    def encrypt(self, secrets: Mapping[str, str]) -> str:
        """``secrets`` as one Fernet token (text), encrypted with the first key."""
        register(secrets.values())
        plain = json.dumps(dict(secrets), sort_keys=True, separators=(",", ":"))
        return self._box().encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(
        self,
        token: str,
        *,
        what: str,
        stored_key_id: str | None = None,
        again: str | None = None,
    ) -> dict[str, str]:
        """The secrets in ``token``. ``what`` names them in an error ("the X sign-in of link
        alice"); ``stored_key_id`` is the id stored beside them; ``again`` the command that
        signs in again (``birdbridge login x --link alice``)."""
        from cryptography.fernet import InvalidToken

        try:
            plain = self._box().decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretKeyError(self._cannot_open(what, stored_key_id, again)) from None
        try:
            secrets = json.loads(plain.decode("utf-8"))
        except ValueError:
            secrets = None
        if not isinstance(secrets, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()
        ):
            raise SecretKeyError(
                f"{what} opened with the key from {self.source} but is not a sign-in "
                f"birdbridge wrote: {_sign_in_again(again)}"
            )
        register(secrets.values())
        return secrets

    def _box(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretKeyError(f"{self.source}: a SecretBox made without keys (from_keys)")
        return self._fernet

    def _cannot_open(self, what: str, stored: str | None, again: str | None) -> str:
        ours = (
            f"{self.source} is key {self.key_id}"
            if len(self.key_ids) == 1
            else f"{self.source} holds keys {', '.join(self.key_ids)}"
        )
        if stored is not None and stored not in self.key_ids:
            return (
                f"cannot open {what}: it was stored with key {stored}, and {ours}. Either "
                f"{_set_the_key(self.source, stored)}, or {_sign_in_again(again)}"
            )
        if stored is not None:
            return (
                f"cannot open {what}: it was stored with key {stored}, which {self.source} "
                "holds, but the stored text is damaged (changed or cut short in the database). "
                "S" + _sign_in_again(again)[1:]
            )
        return (
            f"cannot open {what} with the key from {self.source} ({ours}): it was stored with "
            f"another key, or is damaged. Either {_set_the_key(self.source, None)}, or "
            f"{_sign_in_again(again)}"
        )


def secret_box(
    database_url: str, environ: Mapping[str, str] | None = None, *, create: bool
) -> SecretBox:
    """The box for the sign-ins kept in the database at ``database_url``: its key from
    ``BIRDBRIDGE_SECRET_KEY``, else (a SQLite file only) from the key file beside the database,
    made when missing if ``create``."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_KEY, "")
    if value.strip():
        return SecretBox.from_keys(value.split(","), ENV_KEY)
    database = _sqlite_file(database_url)
    if database is None:
        raise SecretKeyError(
            f"{ENV_KEY} is not set: with a database that is not a SQLite file (PostgreSQL) it "
            "is the only place the key that encrypts the stored sign-ins comes from (never "
            f"the database it protects). {_how_to_make_one()} in the environment of every "
            "birdbridge process using this database, and keep a copy: sign-ins stored with it "
            "cannot be read without it"
        )
    path = database.with_name(database.name + KEY_FILE_SUFFIX)
    if create and not path.exists():
        _create_key_file(path)
    return SecretBox.from_keys(_read_key_file(path), str(path))


def _fernet(key: str, number: int, count: int, source: str) -> Fernet:
    from cryptography.fernet import Fernet

    which = f"key {number} of {count} in {source}" if count > 1 else source
    try:
        if len(key) != 44:
            raise ValueError(key)
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SecretKeyError(
            f"{which} is not a Fernet key: a key is 44 url-safe base64 characters (this one "
            f"has {len(key)}; quotes or a cut-off copy are the usual cause). "
            f"{_how_to_make_one()}"
        ) from None


def _how_to_make_one(first: bool = True) -> str:
    return f"{'M' if first else 'm'}ake a key with `{NEW_KEY_COMMAND}` and set {ENV_KEY} to it"


def _set_the_key(source: str, stored: str | None) -> str:
    which = f"the key {stored}" if stored else "the key it was stored with"
    if source == ENV_KEY:
        return (
            f"set {ENV_KEY} to {which} (several keys, comma-separated, are all tried: "
            "the first encrypts)"
        )
    return f"put back the key file {source} holding {which}, or set {ENV_KEY} to it"


def _sign_in_again(again: str | None) -> str:
    return f"sign in again (`{again or 'birdbridge login'}`)"


def _sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL names, parsed as the store parses it (store/database.py), so
    the key sits beside the very file; None for any other database."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        return None
    if url.get_backend_name() != "sqlite" or url.host:
        return None
    name = url.database or ""
    if not name or name == ":memory:" or name.startswith("file::memory:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(name).expanduser()


def _create_key_file(path: Path) -> None:
    """A new key file readable by its owner only from its first instant: written under a
    temporary name made with O_CREAT|O_EXCL and mode 0600, then linked to its name, which fails
    if another process made it first (its key is kept, ours dropped). Synced with its folder,
    so a power cut never loses a key tokens were already encrypted with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{random.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, (new_key() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process made it first: its key is the one
    except OSError:
        # A file system without hard links: the same key, written under its name, never
        # replacing one that another process made meanwhile (O_EXCL).
        with contextlib.suppress(FileExistsError):
            _write_exclusive(path, temporary.read_bytes())
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _write_exclusive(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform opens folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_key_file(path: Path) -> list[str]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretKeyError(
            f"the key file {path} is missing: the sign-ins stored in the database beside it "
            f"were encrypted with it and cannot be read without it. Put it back (from a "
            f"backup), or set {ENV_KEY} to that key, or sign in again (`birdbridge login`)"
        ) from None
    except OSError as exc:
        raise SecretKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    if mode & _OTHERS:
        raise SecretKeyError(
            f"the key file {path} can be read by other users (mode {stat.S_IMODE(mode):04o}) "
            f"and opens the sign-ins stored in the database: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not a key"
        raise SecretKeyError(f"cannot read the key file {path}: {reason}") from None
    return text.replace(",", "\n").splitlines()
