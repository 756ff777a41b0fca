"""Interactive views on the reduction engine (ipywidgets, bqplot, ipyaladin)."""
