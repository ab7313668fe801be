#!/usr/bin/env python3
"""One-shot set-up of the Airflow deployment: docker-compose.yml's ``airflow-init`` service.

1. ``airflow db migrate`` creates or upgrades the metadata database (safe to repeat).
2. The admin user. The project runs Airflow 3's default auth manager, the simple auth manager
   (no FAB provider is installed), whose users are ``[core] simple_auth_manager_users``
   (docker-compose.yml: ``<AIRFLOW_ADMIN_USERNAME>:admin``) and whose passwords are kept in a
   JSON file, ``[core] simple_auth_manager_passwords_file``, on a volume only this service
   and the api-server mount. This writes AIRFLOW_ADMIN_PASSWORD into it for that user, so
   the api-server never makes up a random password (and prints it to its log). Running it
   again sets the password again (the api-server reads the file at each login): change it in
   docker/.env, then `docker compose -f docker/docker-compose.yml run --rm airflow-init`.

The password is read from the environment, never from the command line, and the file is
written whole (a temporary file renamed over it) with mode 0600.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class InitError(RuntimeError):
    """The deployment's configuration cannot give the admin user a password."""


def write_password(path: Path, username: str, password: str) -> None:
    """Set ``username``'s password in the simple auth manager's file, keeping other users'."""
    if not password:
        raise InitError("AIRFLOW_ADMIN_PASSWORD is empty")
    passwords: dict[str, str] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise InitError(f"{path} holds {type(loaded).__name__}, not a JSON object of passwords")
            passwords = {str(k): str(v) for k, v in loaded.items()}
    passwords[username] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(passwords) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def admin_password_file(username: str) -> Path:
    """Where the running configuration keeps passwords, after checking it makes ``username`` an admin."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.configuration import conf

    auth_manager = conf.get("core", "auth_manager")
    if auth_manager != SIMPLE_AUTH_MANAGER:
        raise InitError(
            f"[core] auth_manager is {auth_manager}; this set-up only knows the simple auth manager "
            f"({SIMPLE_AUTH_MANAGER})"
        )
    roles = {user.username: user.role for user in SimpleAuthManager.get_users()}
    if str(roles.get(username, "")).lower() != "admin":
        raise InitError(
            f"[core] simple_auth_manager_users does not make {username!r} an admin "
            f"(users: {roles or 'none'}); set AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS={username}:admin"
        )
    return Path(SimpleAuthManager.get_generated_password_file())


def main() -> int:
    username = os.environ.get("AIRFLOW_ADMIN_USERNAME", "admin")
    password = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
    if not password:
        print("airflow-init: AIRFLOW_ADMIN_PASSWORD is not set (docker/.env)", file=sys.stderr)
        return 2
    print("==> airflow db migrate", flush=True)
    migrated = subprocess.run(["airflow", "db", "migrate"], check=False)
    if migrated.returncode != 0:
        print(f"airflow-init: airflow db migrate failed (exit {migrated.returncode})", file=sys.stderr)
        return migrated.returncode
    try:
        path = admin_password_file(username)
        write_password(path, username, password)
    except (InitError, OSError, ValueError) as exc:
        print(f"airflow-init: {exc}", file=sys.stderr)
        return 1
    print(f"==> admin user {username!r} can log in to the Airflow UI (password file {path})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
