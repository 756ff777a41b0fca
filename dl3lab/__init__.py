"""dl3lab: Jupyter-native reduction of IACT DL3 data into binned datasets.

- :mod:`dl3lab.reduction`: the reduction engine (numpy, scipy, astropy, regions).
- :mod:`dl3lab.widgets`: interactive views (ipywidgets, bqplot, ipyaladin).
"""

__version__ = "0.1.0"
