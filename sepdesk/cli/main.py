"""The ``sepdesk`` command: the click group and the registration of every command group."""

from __future__ import annotations

import click

from sepdesk.cli.common import FencedGroup

# The root's --config and every command's say the same (config.load's order).
CONFIG_HELP = (
    "Config file (default: $SEPDESK_CONFIG, else config/sepdesk.toml, else built-in defaults)."
)


@click.group(cls=FencedGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help=CONFIG_HELP,
)
@click.version_option(package_name="sepdesk")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """sepdesk: the support desk's mail intake, tickets and SLA clock."""
    ctx.ensure_object(dict)["config_path"] = config_path


def _store_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.find_root().ensure_object(dict)["config_path"] = value


def _tree(command: click.Command) -> list[click.Command]:
    """The command and, for a group, every command below it."""
    if isinstance(command, click.Group):
        return [command, *(c for sub in command.commands.values() for c in _tree(sub))]
    return [command]


def _register() -> None:
    """Add every command group, and ``--config`` to every command (SPEC: each command takes
    it), groups included: ``sepdesk tickets --config X list`` was a usage error."""
    from sepdesk.cli import commands

    if cli.commands:
        return
    for command in commands.ALL:
        cli.add_command(command)
        for each in _tree(command):
            each.params.append(
                click.Option(
                    ["--config"],
                    type=click.Path(dir_okay=False),
                    expose_value=False,
                    is_eager=True,
                    callback=_store_config,
                    help=CONFIG_HELP,
                )
            )


def main() -> None:
    _register()
    cli(prog_name="sepdesk")
