"""Corpus builder, research-dataset loaders and example generators."""
