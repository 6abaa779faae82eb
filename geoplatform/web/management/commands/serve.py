import errno
import os
import socket

from django.core.management.base import BaseCommand, CommandError


def check_port_free(host: str, port: int) -> None:
    """CommandError naming the cause and the fix when host:port cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"port {port} on {host} is already in use (another server?): stop it, "
                    f"or choose another port, e.g. GEOPLATFORM_PORT={port + 1}"
                ) from None
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


class Command(BaseCommand):
    help = "Run the platform's web server (Django ASGI under uvicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("GEOPLATFORM_HOST", "127.0.0.1"),
                            help="address to listen on (GEOPLATFORM_HOST, default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=int(os.environ.get("GEOPLATFORM_PORT", "8000")),
                            help="port (GEOPLATFORM_PORT, default 8000)")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GEOPLATFORM_WORKERS", "1")),
                            help="worker processes (GEOPLATFORM_WORKERS, default 1)")
        parser.add_argument("--check-port", action="store_true", help="only check that the port is free, then exit")

    def handle(self, *args, host, port, workers, check_port, **options):
        check_port_free(host, port)
        if check_port:
            return
        import uvicorn

        self.stdout.write(f"Geoplatform on http://{host}:{port}/  (Ctrl-C to stop)")
        uvicorn.run("geoplatform.asgi:application", host=host, port=port, workers=workers,
                    log_level=os.environ.get("GEOPLATFORM_LOG_LEVEL", "info").lower(), lifespan="off")
