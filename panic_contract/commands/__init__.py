"""The `panic-contract` command and its subcommands: thin entry points over the layers below."""
