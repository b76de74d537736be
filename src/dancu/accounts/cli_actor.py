"""Who is acting when the CLI is used: the operating-system user, as an administrator.

Shell access to the database and its key file is already full power; naming the
account in the access log keeps command-line reads accountable too.
"""

from __future__ import annotations

import getpass

from dancu.accounts.models import Role
from dancu.accounts.services import Actor


def cli_actor() -> Actor:
    return Actor(username=f"cli:{getpass.getuser()}", role=Role.ADMIN)
