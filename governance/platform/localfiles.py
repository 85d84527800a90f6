"""The files a development machine needs: generated secrets under VAR_DIR, the broker's folders,
STATIC_ROOT.

Importing settings writes nothing: it only reads the secret files, and a name the environment
sets is never generated (production sets SECRET_KEY and FIELD_ENCRYPTION_KEY). The entry points
that start Django on a development machine call `ensure()` before Django reads its settings:
manage.py (which `make run`'s launcher runs first, for migrate) and pytest (tests/bootstrap.py);
a Celery worker or beat makes the folders when it starts (governance/celery.py).
"""

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
GENERATED_SECRETS = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
}


def var_dir() -> Path:
    return Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def _secret_path(name: str) -> Path:
    return var_dir() / f"{name.lower()}.txt"


def read_secret(name: str) -> str:
    """The secret from the environment, else its generated file, else "" (not generated yet:
    Django refuses an empty SECRET_KEY when it is first used, not at import)."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        return _secret_path(name).read_text().strip()
    except FileNotFoundError:
        return ""


def ensure_secrets() -> None:
    """Generate, once, each secret the environment does not set (owner-readable only)."""
    for name, make in GENERATED_SECRETS.items():
        path = _secret_path(name)
        if os.environ.get(name) or path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)


def ensure_folders(settings) -> None:
    """STATIC_ROOT (whitenoise warns when it is missing) and the filesystem broker's folders
    (kombu's transport creates neither)."""
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)


def ensure() -> None:
    """Secrets first (settings reads them when imported), then the folders settings names."""
    ensure_secrets()
    ensure_folders(settings)  # django.conf's lazy settings: loaded here, after the secrets
