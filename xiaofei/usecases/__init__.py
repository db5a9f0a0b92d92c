"""The use-cases: plain functions over the App that every adapter calls."""
