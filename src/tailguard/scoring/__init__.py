"""Documents of unknown origin: machine-made scores, the machine-made share, duplicate clusters, the domain check.

>>> from tailguard.scoring import score, near_duplicate_clusters
"""

from tailguard.scoring.clusters import Clusters, near_duplicate_clusters, write_clusters
from tailguard.scoring.core import Likeness, Scores, human_likeness, score
from tailguard.scoring.domain import DomainCheck, domain_check
from tailguard.scoring.lm import NgramLM
from tailguard.scoring.share import ShareEstimate, adjusted_count_share, best_bin_share, machine_probability
from tailguard.scoring.support import RadiusRatios, radius_ratios

__all__ = [
    "Clusters",
    "DomainCheck",
    "Likeness",
    "NgramLM",
    "RadiusRatios",
    "Scores",
    "ShareEstimate",
    "adjusted_count_share",
    "best_bin_share",
    "domain_check",
    "human_likeness",
    "machine_probability",
    "near_duplicate_clusters",
    "radius_ratios",
    "score",
    "write_clusters",
]
