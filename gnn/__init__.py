"""Text features, the GNN, training, evaluation, baselines and inference (issue: the GNN)."""
