"""The contract suite's only wiring: load the plugin (options, target, findings, verdict, reports)."""

pytest_plugins = ["panic_contract.pytest.plugin"]
