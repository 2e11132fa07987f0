"""`python -m nurture.cli`: the same command as the `nurture` script."""

from nurture.cli.app import app

app()
