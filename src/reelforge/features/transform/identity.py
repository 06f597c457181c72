"""The identity score: how far each output's face is from the input's, against a threshold.

dlib's 128-D embeddings (:class:`~reelforge.imaging.faces.FaceAnalyzer`)
compared by Euclidean distance; below ``transform.identity_threshold`` (0.6, dlib's usual
same-person line) the output *passes*. It is a soft signal: mild grades stay near 0.1-0.25,
heavy stylisation (comic, sketch) moves towards 0.5, and a hosted model may redraw the face, so
a failure is reported, never refused. An output with no detectable face scores ``None`` with the
note ``no_face``; without the dlib model files every score is ``None`` with ``unavailable``.
Everything here is CPU-bound: callers use a worker thread.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from reelforge.errors import MissingModelFiles, ReelforgeError
from reelforge.features.transform.schemas import IdentityScore
from reelforge.imaging.faces import DetectedFace, Embedding, FaceAnalyzer
from reelforge.log import get_logger

__all__ = ["NOT_AN_IMAGE", "UNAVAILABLE", "IdentityJudge"]

log = get_logger(__name__)

UNAVAILABLE = IdentityScore(distance=None, passed=None, note="unavailable")
NOT_AN_IMAGE = IdentityScore(distance=None, passed=None, note="not_an_image")


class IdentityJudge:
    """Scores outputs against one input face."""

    def __init__(self, analyzer: FaceAnalyzer, threshold: float) -> None:
        self._analyzer = analyzer
        self.threshold = threshold

    @property
    def analyzer(self) -> FaceAnalyzer:
        return self._analyzer

    def reference(self, image: Image.Image, face: DetectedFace) -> Embedding | None:
        """The input face's embedding; None when the model files are missing."""
        try:
            return self._analyzer.describe(image, face)
        except MissingModelFiles as exc:
            log.warning("transform.identity_unavailable", code=exc.code)
            return None

    def score(self, reference: Embedding | None, output: Image.Image) -> IdentityScore:
        if reference is None:
            return UNAVAILABLE
        faces = self._analyzer.detect(output)
        if not faces:
            return IdentityScore(distance=None, passed=False, note="no_face")
        try:
            embedding = self._analyzer.describe(output, faces[0])
        except ReelforgeError as exc:
            log.warning("transform.identity_failed", code=exc.code)
            return UNAVAILABLE
        distance = round(float(np.linalg.norm(embedding - reference)), 4)
        return IdentityScore(distance=distance, passed=distance < self.threshold)
