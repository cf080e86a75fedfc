"""Integrations with the tools people already train with.

Each integration is imported on its own (``tailguard.integrations.ultralytics``)
and imports its heavy dependency lazily, so ``import tailguard.integrations``
costs nothing.
"""
