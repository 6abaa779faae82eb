"""The ``geoplatform`` command: a short list of verbs over Django's management commands.

``geoplatform db ...`` manages the project-local PostGIS without Django; every other verb
starts that database on demand (unless DATABASE_URL points elsewhere) and runs the
management command of the same name, so ``geoplatform VERB --help`` is that command's help.

Language rule: the CLI speaks English whatever LANG or the platform's LANGUAGE_CODE (zh-hans, for
the pages) say, so a message is the same in a terminal, a log file and a bug report; Chinese appears
only as data (names, addresses) and as a domain term next to its English name.
"""

from __future__ import annotations

import os
import sys

from geoplatform import localdb

VERBS = {
    "serve": "run the web server (http://127.0.0.1:$GEOPLATFORM_PORT, default 8000)",
    "db": "project-local PostGIS: start | stop | status | url",
    "migrate": "create or update the database tables",
    "demo": "load the demo city, departments, users and API keys (idempotent)",
    "department": "add or list departments (and which one is the data authority)",
    "user": "add a staff login to a department, or list the logins",
    "apikey": "create, list or revoke a department's API keys",
    "catalog": "list catalog entries, set sharing/cadence, show overdue updates, send expiry notices",
    "audit": "verify the audit log's hash chain, request statistics, keys leaked by older versions",
    "gazetteer": "load a gazetteer (地名地址库) CSV as its new version, or show the versions",
    "geocode": "geocode addresses: batch IN.csv --column C --out OUT.csv [--workers N], or one ADDRESS",
    "worker": "run background jobs (batch geocoding) from the database queue",
    "layer": "publish a file as a shared layer's new version, list its history, restore a version",
    "imagery": "ingest a GeoTIFF as a year of an imagery collection (COG), or list the collections",
    "manage": "any other Django management command (geoplatform manage help; e.g. createsuperuser, shell)",
}


def usage() -> str:
    lines = ["usage: geoplatform VERB [options]   (geoplatform VERB --help for each verb)", "", "verbs:"]
    lines += [f"  {verb:<11} {text}" for verb, text in VERBS.items()]
    lines += ["", "Environment: DATABASE_URL, GEOPLATFORM_DATA_DIR, GEOPLATFORM_PORT ... (see README.md)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb, rest = argv[0], argv[1:]
    if verb == "db":
        return localdb.main(rest)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    import django
    from django.core.management import execute_from_command_line, get_commands
    from django.utils import translation

    django.setup()
    if verb not in VERBS and verb not in get_commands():
        print(f"geoplatform: unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        return 2
    wants_help = any(arg in ("-h", "--help") for arg in rest)
    if not wants_help and "--check-port" not in rest:
        try:
            localdb.start(say=lambda msg: print(f"[db] {msg}", file=sys.stderr))
        except localdb.LocalDbError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    # Django's own help says "Type '<prog> help <subcommand>'": under `manage` that is `geoplatform manage`.
    argv0, command = ("geoplatform manage", rest) if verb == "manage" else ("geoplatform", [verb, *rest])
    with translation.override("en"):
        execute_from_command_line([argv0, *command])
    return 0


if __name__ == "__main__":
    sys.exit(main())
