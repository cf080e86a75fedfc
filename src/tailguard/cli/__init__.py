"""The ``tailguard`` command line: thin typer commands over the library."""
