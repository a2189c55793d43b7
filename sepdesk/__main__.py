"""``python -m sepdesk``: the same as the ``sepdesk`` command."""

from sepdesk.cli.main import main

main()
