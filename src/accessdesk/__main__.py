"""``python -m accessdesk``: the ``accessdesk`` command, for where the script is not on ``PATH``."""

from accessdesk.cli import main

if __name__ == "__main__":
    main(prog_name="accessdesk")
