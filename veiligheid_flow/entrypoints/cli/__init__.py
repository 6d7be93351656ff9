"""The `veiligheid` command line (Typer): one module per group of commands."""
