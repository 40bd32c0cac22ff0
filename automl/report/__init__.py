"""What a run shows: the HTML report and its plots, TensorBoard logs and the live
progress display."""
