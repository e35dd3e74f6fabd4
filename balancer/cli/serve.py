"""`serve` and `users add`: the web page for planners (`balancer.web`) and its accounts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import platformdirs
import typer

from balancer.cli.app import app, command, console, echo
from balancer.errors import InputError

DataOption = Annotated[Optional[Path], typer.Option(
    "--data", help="The web application's folder: accounts, uploaded scenarios, runs, the draw register "
                   "[default: web/ in the user's data folder].")]

users = typer.Typer(no_args_is_help=True, help="Accounts of the web page (`balancer serve`).")
app.add_typer(users, name="users")


def data_folder(given: Path | None) -> Path:
    return given or platformdirs.user_data_path("balancer", appauthor=False) / "web"


def _web():
    """The web extra, or an InputError saying how to install it."""
    try:
        import balancer.web
    except ImportError as e:
        raise InputError(f"the web page needs packages that are not installed ({e.name}): "
                         "pip install 'balancer[web]'") from None
    return balancer.web


@command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; keep 127.0.0.1 behind a TLS proxy.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    data: DataOption = None,
    scenarios: Annotated[Optional[Path], typer.Option(
        help="A folder of scenarios kept on the server, offered to planners beside uploads (read where they "
             "are; they may name any file under it, e.g. this repository: its scenarios/ name ../models/).")] = None,
    behind_tls: Annotated[bool, typer.Option(
        "--behind-tls", help="The page is reached over HTTPS (a proxy in front): session cookies are sent over TLS only.")] = False,
) -> None:
    """Start the web page for planners: upload, validate, preview, draw, results, history."""
    web = _web()
    import uvicorn

    folder = data_folder(data)
    console.print(f"balancer: serving {folder} on http://{host}:{port}/ (Ctrl-C stops)")
    # No access log: addresses name scenarios and runs, and a log is no place for case data.
    app = web.create_app(folder, scenarios=scenarios, https_only=behind_tls)
    uvicorn.run(app, host=host, port=port, access_log=False)


@command("add", on=users)
def add_user(
    name: Annotated[str, typer.Argument(help="The account name: the register's operator for every draw it makes.")],
    role: Annotated[list[str], typer.Option(help="planner, clerk or auditor (repeatable).")],
    data: DataOption = None,
) -> None:
    """Create an account. The password is asked twice on a terminal, else read from the first
    line of standard input (never from the command line, where others can see it)."""
    from balancer.web.accounts import Accounts

    _web()
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    folder = data_folder(data)
    Accounts(folder).add_user(name, role, password)
    console.print(f"account {name} ({', '.join(sorted(set(role)))}) added to {folder / 'web.sqlite'}")


@command("remove", on=users)
def remove_user(
    name: Annotated[str, typer.Argument(help="The account to take away.")],
    data: DataOption = None,
) -> None:
    """Take an account away: its sessions end at their next page; its draws keep its name."""
    from balancer.web.accounts import Accounts

    _web()
    Accounts(data_folder(data)).remove_user(name)
    console.print(f"account {name} removed")


@command("list", on=users)
def list_users(data: DataOption = None) -> None:
    """The accounts and their roles."""
    from balancer.web.accounts import Accounts

    _web()
    for name, roles, created in Accounts(data_folder(data)).users():
        echo(f"{name}\t{roles}\tsince {created}")  # tab-separated, for scripts too
