"""Fill the password hashes of an ACL file template (deploy/redis/users.acl) from the environment.

Each `{{role}}` becomes the SHA-256 of `MEETBRIDGE_REDIS_<ROLE>_PASSWORD`, so the file Redis loads
holds no password; comment and blank lines are dropped (Redis's ACL file allows
neither). Usage: `python deploy/redis/render_acl.py TEMPLATE > /etc/redis/users.acl`.
A role whose variable is unset stops the script with the variable's name.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{\{([a-z]+)\}\}")


def render(template: str, environ: Mapping[str, str]) -> str:
    """The template with every `{{role}}` replaced by the hash of that role's password."""
    missing = sorted(
        {f"MEETBRIDGE_REDIS_{role.upper()}_PASSWORD" for role in _PLACEHOLDER.findall(template)}
        - {name for name, value in environ.items() if value}
    )
    if missing:
        raise SystemExit("render_acl: set " + ", ".join(missing))

    def hashed(match: re.Match) -> str:
        password = environ[f"MEETBRIDGE_REDIS_{match.group(1).upper()}_PASSWORD"]
        return hashlib.sha256(password.encode()).hexdigest()

    lines = [line for line in template.splitlines() if line.strip() and not line.startswith("#")]
    return _PLACEHOLDER.sub(hashed, "\n".join(lines) + "\n")


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        sys.stdout.write(render(handle.read(), os.environ))
