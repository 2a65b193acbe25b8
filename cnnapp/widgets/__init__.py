"""Reusable widgets: drawing canvas, heatmap grid, plots, architecture editor."""
