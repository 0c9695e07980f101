"""CLI sub-commands, one module each; `register_all` wires them onto the root group."""

from __future__ import annotations

import click


def register_all(main: click.Group) -> None:
    from cti.commands import config_cmd, customers_cmd, db_cmd, server_cmd

    main.add_command(config_cmd.config)
    main.add_command(db_cmd.db)
    main.add_command(customers_cmd.customers)
    main.add_command(server_cmd.serve)
    from cti import demo

    main.add_command(demo.demo)

    from cti.commands import sim_cmd

    main.add_command(sim_cmd.sim)
    main.add_command(sim_cmd.erlang)

    from cti.commands import emulator_cmd

    main.add_command(emulator_cmd.pbx_emulator)

    from cti.commands import ami_cmd

    main.add_command(ami_cmd.ami_watch)

    from cti.commands import bench_cmd

    main.add_command(bench_cmd.bench)

    from cti.commands import users_cmd

    main.add_command(users_cmd.user)

    from cti.commands import history_cmd

    main.add_command(history_cmd.history)

    from cti.commands import forecast_cmd

    main.add_command(forecast_cmd.forecast)

    from cti.commands import plan_cmd

    main.add_command(plan_cmd.plan)

    from dialer.dnc_cli import dnc

    main.add_command(dnc)
