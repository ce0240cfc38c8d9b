"""MovieLens recommender pipeline: DVC stages (``python -m pipeline.<stage>``) over library code in ``pipeline.lib``."""
