"""``python -m sepdesk``: the same as the ``sepdesk`` command."""

from sepdesk.cli.main import main

if __name__ == "__main__":  # pipeline processes import this module again when spawned
    main()
