"""Xiaofei (小肺): an AI second opinion for chest X-rays and skin photos, served from cloud functions."""

__version__ = "0.1.0"
