"""What the SQL ledger and the warehouse blocks share about reaching a database.

A URL never carries the password (the block's `password` field does, encrypted), and a failure to connect is
told with the block's name and the password masked, as one of two kinds: the database refused the login
(permanent: retrying cannot help) or it could not be reached (worth retrying).
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import SecretStr

from blocks.runbook import runbook

# How drivers say the server refused these credentials (psycopg, pymysql, pyodbc): no retry can fix that.
_REFUSED = ("authentication failed", "no password supplied", "access denied for user", "login failed for user")
_PASSWORD_PARAMETERS = {"password", "passwd", "pwd"}


class LoginRefused(PermissionError):
    """The database refused the user or password: permanent, so never retried."""


def password_free_url(value: str) -> str:
    """Validate a block's ``url``: a SQLAlchemy URL with no password in it (never quoted: it may hold one)."""
    try:
        url = sa.make_url(value)
        url.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
        raise ValueError(f"url is not a SQLAlchemy URL such as postgresql+psycopg://user@host/database "
                         f"({str(error).split(' from given')[0]})") from None
    if url.password is not None or _PASSWORD_PARAMETERS & {key.lower() for key in url.query}:
        raise ValueError("url contains a password, which would be kept in clear in the block and in Prefect's "
                         "events: remove it from the URL and put it in the password field (stored encrypted)")
    return value


def block_label(block) -> str:
    """'block <type-slug>/<name>' of a saved block, as flow parameters name it."""
    name = block._block_document_name
    return f"block {block.get_block_type_slug()}/{name}" if name else f"the {block.get_block_type_slug()} block"


def connection_error(error: sa.exc.DBAPIError, what: str, block: str, password: SecretStr | None,
                     unreachable: type[Exception], entry: str) -> Exception:
    """The error to raise for a failed connection: LoginRefused, or ``unreachable`` (retried, its runbook entry
    ``entry``), naming ``what`` (the database, password masked) and the block to correct; the password never appears
    in it."""
    reason = str(error.orig) if error.orig is not None else str(error)
    if password is not None and password.get_secret_value():
        reason = reason.replace(password.get_secret_value(), "***")
    reason = (reason.strip().splitlines() or ["no reason given"])[0]
    if any(marker in reason.lower() for marker in _REFUSED):
        return LoginRefused(f"{what} refused the login: {reason}. Correct the user in the URL or the password in "
                            f"{block}; this is not retried. {runbook('login-refused')}")
    return unreachable(f"{what} is unreachable: {reason}. Check that the database is up and that the URL and "
                       f"password in {block} are right. {runbook(entry)}")
