"""mentor: large-small model collaborative training.

A small model (a GNN, a small language model) does the work; a large language model is consulted on the
hard cases and asked to explain. ``mentor.llm`` is the one way the rest of the toolkit talks to a large model.
"""

__version__ = "0.1.0"
