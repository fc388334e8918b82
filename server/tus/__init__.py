"""The resumable upload endpoint: tus 1.0.0 (handler.py, protocol.py) and the seed's chunk form."""
