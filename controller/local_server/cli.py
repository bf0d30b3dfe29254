"""``convctl serve``: run the offline realtime server in the foreground.

Owns the click command only; the lead attaches ``serve_command`` to the ``convctl`` group.
It builds a ``LocalServer``, prints the URLs it serves, and blocks until Ctrl-C. Errors a
user can cause (a bad brain file, a port in use) exit 1 with a message saying what to do.
"""

from __future__ import annotations

import errno
import logging

import click

from controller.errors import ConvctlError
from controller.local_server.server import LocalServer


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep the loopback unless you mean to share it.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on (0 picks a free one).")
@click.option("--brain", "brain_path", type=click.Path(dir_okay=False),
              help="YAML file of intents, replies and tool calls (default: the built-in brain).")
@click.option("--max-session-seconds", default=3600.0, show_default=True,
              type=click.FloatRange(min=1.0),
              help="Sessions end with session_expired and close 1001 after this long.")
@click.option("-v", "--verbose", count=True, help="Log more (-v: info, -vv: debug).")
def serve_command(host: str, port: int, brain_path: str | None, max_session_seconds: float,
                  verbose: int) -> None:
    """Run the built-in offline realtime server (OpenAI Realtime protocol, no API key).

    It speaks the GA dialect at /v1/realtime and the beta dialect at the Azure preview
    path, hears with Silero VAD and pocketsphinx, speaks with espeak-ng, and answers from
    a YAML brain. Point any realtime client at the printed URL. Ctrl-C stops it.
    """
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = LocalServer(host=host, port=port, brain_path=brain_path,
                             max_session_seconds=max_session_seconds)
        server.start()
    except ConvctlError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(f"port {port} on {host} is already in use; pass "
                                       "another --port (or 0 for any free one)") from error
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from error
    try:
        click.echo(f"convctl local realtime server on {server.url}")
        click.echo(f"  beta (Azure preview) dialect: {server.beta_url}")
        click.echo("  Ctrl-C to stop.")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    click.echo("convctl local realtime server stopped.")
