"""The Keycloak seam: every HTTP call ccci makes to Keycloak goes through here.

Admin calls (realms) use python-keycloak's `KeycloakAdmin` authenticated as
the master realm's admin, whose password is read from the file the config
names, when needed and never kept in the config. OIDC calls a realm's users
make (discovery, password grant) use its `KeycloakOpenID`.

Reach: a Keycloak behind the host's own proxy (ingress `local-proxy`, the
test bed's front door) is reached as the apps are: its name, and every
name under the domains given, connects to the proxy's address
(`http.route_names`), TLS verified against the CA file given instead of
the system's (never switched off unless `verify_tls` is false).

Invariant: no credential leaves this module in a message. Every failure is
turned into one `KeycloakError` whose text is built from the operation, the
HTTP status and Keycloak's own error text with every secret this module knows
of replaced by `***`; the library's exception is not chained (`from None`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keycloak
import keycloak.exceptions
import requests

from ccci.pure.config import KeycloakSettings
from ccci.seams import http

log = logging.getLogger("ccci")

MASTER = "master"
TIMEOUT = 30  # seconds per HTTP request


class KeycloakError(Exception):
    """Keycloak refused, failed or could not be reached. The message names no
    credential. `status` is the HTTP status when Keycloak answered."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret in it replaced by `***`."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def read_password(path: str) -> str:
    """The admin password from its file (first line, whitespace trimmed)."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise KeycloakError(
            f"cannot read the Keycloak admin password file {path}: {error.strerror}"
        ) from None
    password = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise KeycloakError(f"the Keycloak admin password file {path} is empty")
    return password


def _short(body: object) -> str:
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    return " ".join(text.split())[:300]


class Keycloak:
    """One Keycloak server, seen by ccci: its admin API and its realms' OIDC."""

    def __init__(self, settings: KeycloakSettings, *, password: str | None = None,
                 connect_to: str | None = None, domains: tuple[str, ...] = (), ca_file: str | None = None):
        self.settings = settings
        self.url = settings.url.rstrip("/")
        if connect_to is not None and domains:
            http.route_names(connect_to, domains)
        # requests' `verify`: False, True (the system's CAs) or a CA file.
        self.verify: bool | str = ca_file if ca_file is not None and settings.verify_tls else settings.verify_tls
        self._password = password if password is not None else read_password(
            settings.admin_password_file
        )
        self._secrets: set[str] = {self._password}
        self._admin: keycloak.KeycloakAdmin | None = None

    def __repr__(self) -> str:  # never the password
        return f"Keycloak({self.url!r}, admin_user={self.settings.admin_user!r})"

    def remember_secret(self, value: str) -> None:
        """A value that must be redacted from any error this seam raises."""
        self._secrets.add(value)

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        try:
            yield
        except keycloak.exceptions.KeycloakError as error:
            status = error.response_code
            detail = _short(error.error_message) if error.error_message else ""
            if isinstance(error, keycloak.exceptions.KeycloakConnectionError):
                detail = f"cannot connect to {self.url}"
            text = f"Keycloak {what}: " + (f"HTTP {status}" if status else "failed")
            text += f": {detail}" if detail else ""
            raise KeycloakError(redact(text, self._secrets), status) from None
        except requests.RequestException as error:
            text = f"Keycloak {what}: {type(error).__name__}: {error}"
            raise KeycloakError(redact(text, self._secrets)) from None

    def _admin_api(self) -> keycloak.KeycloakAdmin:
        if self._admin is None:
            self._admin = keycloak.KeycloakAdmin(
                server_url=self.url,
                username=self.settings.admin_user,
                password=self._password,
                realm_name=MASTER,
                user_realm_name=MASTER,
                verify=self.verify,
                timeout=TIMEOUT,
            )
        return self._admin

    # -- unauthenticated --------------------------------------------------------

    def discovery(self, realm: str) -> dict[str, Any]:
        """The realm's OpenID Connect discovery document."""
        oidc = keycloak.KeycloakOpenID(
            server_url=self.url, realm_name=realm, client_id="ccci-probe",
            verify=self.verify, timeout=TIMEOUT,
        )
        with self._call(f"discovery of realm {realm}"):
            return oidc.well_known()

    def password_grant(
        self, realm: str, client_id: str, client_secret: str, username: str, password: str
    ) -> dict[str, Any]:
        """A token response for the user's password grant (OIDC direct access)."""
        self._secrets.update({client_secret, password})
        oidc = keycloak.KeycloakOpenID(
            server_url=self.url, realm_name=realm, client_id=client_id,
            client_secret_key=client_secret, verify=self.verify, timeout=TIMEOUT,
        )
        with self._call(f"password grant in realm {realm}"):
            return oidc.token(username, password)

    # -- admin --------------------------------------------------------------------

    def check_admin(self) -> None:
        """Authenticate as the admin (fails if the password is wrong)."""
        with self._call(f"admin login as {self.settings.admin_user!r}"):
            self._admin_api().get_realm(MASTER)

    def realms(self) -> list[dict[str, Any]]:
        """Every realm's representation (name, attributes, …)."""
        with self._call("list realms"):
            return list(self._admin_api().get_realms())

    def realm(self, name: str) -> dict[str, Any] | None:
        """One realm's representation, or None when there is no such realm."""
        try:
            with self._call(f"get realm {name}"):
                return self._admin_api().get_realm(name)
        except KeycloakError as error:
            if error.status == 404:
                return None
            raise

    def create_realm(self, representation: dict[str, Any]) -> None:
        """Create a realm with its clients and users in one call (a realm import)."""
        name = representation["realm"]
        with self._call(f"create realm {name}"):
            self._admin_api().create_realm(representation, skip_exists=False)

    def delete_realm(self, name: str) -> bool:
        """Delete a realm; False when it was already gone."""
        try:
            with self._call(f"delete realm {name}"):
                self._admin_api().delete_realm(name)
        except KeycloakError as error:
            if error.status == 404:
                return False
            raise
        return True
