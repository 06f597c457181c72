"""Imaging: picture helpers any layer above may use, tied to no provider.

:mod:`.faces` (dlib face detection and identity embeddings), :mod:`.filters` (the named style
filters) and :mod:`.sizes` (frame sizes from an aspect ratio). Imports nothing eagerly: dlib and
OpenCV load only with the module that needs them.
"""
