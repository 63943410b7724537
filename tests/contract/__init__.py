"""The contract suite: `pytest` here, `panic-contract check` anywhere (installed as `panic_contract.suite`)."""
