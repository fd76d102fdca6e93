"""Workflows: what trains models and writes reports (the demo, the smoke test, the validation
report, temperature transferability, the properties table). They sit above ``train`` and
``analysis``; ``analysis`` keeps functions of (structures, calculator) that train nothing."""
