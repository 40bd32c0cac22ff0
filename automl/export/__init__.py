"""Models out: the SavedModel and `.keras` export, LiteRT conversion, and the
predictor that serves an exported run."""
