"""moto's internals that the local stack replaces, one module per patched service, where moto
differs from the AWS service it stands in for (each replacement says which moto function it
replaces and what AWS does that moto does not):

  cognito_idp  Cognito user pools: SRP sign-in, ExplicitAuthFlows, MFA_SETUP, token lifetimes,
               refresh refusals, RevokeToken, turning TOTP off (not while MFA is required),
               AdminDeleteSoftwareToken

They replace private functions of moto and read its private state, which any release of moto may
rename or change: they are written for, and checked against, the one version
infra/local/requirements.lock pins. require_pinned_moto() refuses any other (each patch module
calls it before importing moto; servers/moto_server.py before it starts, and applies each
module's apply()).
"""

import re
from importlib import metadata
from pathlib import Path

# infra/local/requirements.lock: the pins install.sh installs into .local/venv.
REQUIREMENTS_LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"


class MotoVersionError(RuntimeError):
    """The installed moto is not the pinned one (or none is installed)."""


def pinned_moto_version(lock: Path = REQUIREMENTS_LOCK) -> str:
    """The version of moto that requirements.lock pins (`moto==X`)."""
    for line in lock.read_text().splitlines():
        found = re.fullmatch(r"moto==([^\s;#]+)", line.strip())
        if found:
            return found[1]
    raise MotoVersionError(f"{lock} pins no moto (no `moto==VERSION` line)")


def installed_moto_version() -> str | None:
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return None


def require_pinned_moto(installed: str | None = None, pinned: str | None = None) -> None:
    """Raises MotoVersionError unless the installed moto is the pinned one."""
    installed = installed_moto_version() if installed is None else installed
    pinned = pinned_moto_version() if pinned is None else pinned
    if installed != pinned:
        raise MotoVersionError(
            f"moto {installed or '(none)'} is installed, but the local stack replaces moto internals written for "
            f"moto {pinned}, the version infra/local/requirements.lock pins (infra/local/lib/moto_patches/). "
            "Run `make setup` (infra/local/install.sh) to install the pinned versions into .local/venv; to move the "
            "pin, check every patch against the new moto first.")

