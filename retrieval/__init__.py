"""Retrieval: sentence encoder, FAISS vector index and the knowledge base of Q&A pairs.

Importing this package is cheap: torch, sentence-transformers and faiss load on first use.
"""

from retrieval.encoder import SentenceEncoder, default_encoder_path
from retrieval.index import IndexCorruptError, IndexMismatchError, VectorIndex
from retrieval.knowledge import Hit, KnowledgeBase, QAPair

__all__ = [
    "Hit",
    "IndexCorruptError",
    "IndexMismatchError",
    "KnowledgeBase",
    "QAPair",
    "SentenceEncoder",
    "VectorIndex",
    "default_encoder_path",
]
