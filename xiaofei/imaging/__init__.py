"""Bytes to pixels and back: decoding (any format a user sends), DICOM, JPEG metadata, tilt, heatmaps."""
