"""`python -m envfix`, the same as the `envfix` command."""

from envfix.cli import main

main(prog_name="envfix")
