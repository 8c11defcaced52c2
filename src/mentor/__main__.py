"""``python -m mentor``: the same as the ``mentor`` command."""

from mentor.cli import main

main()
