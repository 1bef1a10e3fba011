"""Redundancy analysis: mutual-information measures and structural (pruning/ablation) reports."""
