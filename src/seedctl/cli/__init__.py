"""The `seedctl` command line: `app` assembles one module of commands per area."""
