"""Example scripts shipped with dl3lab."""
