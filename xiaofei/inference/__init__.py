"""A model package and its reading of one image: manifest, ONNX session, input gate, the reading."""
