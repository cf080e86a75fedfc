"""Where a sample came from: the one definition of the origin vocabulary.

>>> ORIGINS
('human', 'synthetic', 'pseudo_label', 'unknown')
>>> Origin.PSEUDO_LABEL.label, int(Origin.PSEUDO_LABEL)
('pseudo_label', 2)
"""

from __future__ import annotations

from enum import IntEnum


class Origin(IntEnum):
    """An origin with the integer code that arrays (policy pools, simulator chains) carry."""

    HUMAN = 0
    SYNTHETIC = 1
    PSEUDO_LABEL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        """The ledger spelling: ``human``, ``synthetic``, ``pseudo_label`` or ``unknown``."""
        return self.name.lower()


ORIGINS: tuple[str, ...] = tuple(o.label for o in Origin)
"""Every origin a sample or a box can have, in code order."""
