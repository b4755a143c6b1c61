"""One module per lint rule; each exposes RULE. The registry (proxygen/lint/registry.py) lists them."""
