import errno
import os
import signal
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


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket of its own for one worker process: SO_REUSEPORT lets the kernel spread connections
    over the workers, and TCP_NODELAY (inherited by accepted connections) keeps keep-alive responses from
    waiting for delayed ACKs, which ``uvicorn --workers`` loses (uvicorn issue #3149)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


INTERFACES = ("wsgi", "asgi")


def threaded_application():
    """Django as WSGI in uvicorn's pool of 10 threads, behind the same ``/tiles/`` routing as geoplatform.asgi."""
    import warnings

    from uvicorn.middleware.wsgi import WSGIMiddleware

    from geoplatform.asgi import with_tiles
    from geoplatform.wsgi import application

    def trimmed_headers(environ, start_response):
        """Django's WSGI handler writes Set-Cookie values with a leading space, which uvicorn's h11 refuses."""

        def start(status, headers, exc_info=None):
            return start_response(status, [(name, value.strip()) for name, value in headers], exc_info)

        return application(environ, start)

    from geoplatform.limits import bounded_bodies, largest_body

    warnings.filterwarnings("ignore", message=".*native WSGI implementation is deprecated.*")
    return with_tiles(bounded_bodies(WSGIMiddleware(trimmed_headers), largest_body()))


def server_config(interface: str, log_level: str, **kw):
    """uvicorn's configuration for Django as WSGI in threads (the default) or as ASGI.

    With WSGI each thread keeps its database connection (GEOPLATFORM_DB_CONN_MAX_AGE) and a
    process runs up to 10 requests at once. Django's ASGI handler runs the (synchronous) views one
    at a time per process and gives every request a new database connection, which
    persistent-connection settings then keep open: a busy server runs out of PostgreSQL connections.

    Request heads are read up to ``geoplatform.limits.MAX_REQUEST_HEAD_BYTES`` (h11's default of 16 KiB
    reset the connection of a long URL): up to that size, the application answers a URL over its limit
    with a 414 naming the limit.
    """
    import uvicorn

    from geoplatform.limits import MAX_REQUEST_HEAD_BYTES

    kw.setdefault("h11_max_incomplete_event_size", MAX_REQUEST_HEAD_BYTES)
    if interface == "wsgi":
        return uvicorn.Config(threaded_application, factory=True, log_level=log_level, **kw)
    return uvicorn.Config("geoplatform.asgi:application", log_level=log_level, **kw)


def run_worker(host: str, port: int, log_level: str, interface: str) -> None:
    """One uvicorn server on its own SO_REUSEPORT socket (a child process of ``serve --workers N``)."""
    import uvicorn

    sock = listening_socket(host, port)
    uvicorn.Server(server_config(interface, log_level)).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int, log_level: str, interface: str) -> None:
    """``workers`` processes, each with its own socket; Ctrl-C or SIGTERM stops them all."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=run_worker, args=(host, port, log_level, interface), name=f"geoplatform-web-{i}")
                for i in range(workers)]
    for child in children:
        child.start()

    def stop(_signum, _frame):
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()


class Command(BaseCommand):
    help = "Run the platform's web server (Django under uvicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("GEOPLATFORM_HOST", "127.0.0.1"),
                            help="address to listen on (GEOPLATFORM_HOST, default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=int(os.environ.get("GEOPLATFORM_PORT", "8000")),
                            help="port (GEOPLATFORM_PORT, default 8000)")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GEOPLATFORM_WORKERS", "1")),
                            help="worker processes, each on its own SO_REUSEPORT socket (GEOPLATFORM_WORKERS, "
                                 "default 1)")
        parser.add_argument("--interface", choices=INTERFACES, default=os.environ.get("GEOPLATFORM_INTERFACE", "wsgi"),
                            help="Django as WSGI in threads (default) or ASGI (GEOPLATFORM_INTERFACE)")
        parser.add_argument("--check-port", action="store_true", help="only check that the port is free, then exit")

    def handle(self, *args, host, port, workers, interface, check_port, **options):
        check_port_free(host, port)
        if check_port:
            return
        log_level = os.environ.get("GEOPLATFORM_LOG_LEVEL", "info").lower()
        self.stdout.write(f"Geoplatform on http://{host}:{port}/  ({workers} worker process"
                          f"{'es' if workers > 1 else ''}; Ctrl-C to stop)")
        if workers > 1:
            run_workers(host, port, workers, log_level, interface)
            return
        import uvicorn

        uvicorn.Server(server_config(interface, log_level, host=host, port=port)).run()
