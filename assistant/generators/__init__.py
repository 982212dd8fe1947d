"""Reply generators behind one interface (template by default)."""

from .base import Candidate, Generator, Reply, ReplyRequest
from .template import TemplateGenerator, fill, has_placeholder, slot_key

__all__ = [
    "Candidate",
    "Generator",
    "Reply",
    "ReplyRequest",
    "TemplateGenerator",
    "fill",
    "has_placeholder",
    "slot_key",
]
