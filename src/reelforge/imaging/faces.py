"""Offline face detection and identity embeddings with dlib.

Detection uses dlib's built-in HOG detector on a downscaled copy of the image (about 36 ms at
640 px, see the offline media measurements, section 3); it needs no model files. Embeddings use
two dlib model files, loaded by path on first use: the 5-point shape predictor (for alignment)
and the ResNet face recognition model (128-D, Euclidean distance; dlib's usual same-person
threshold is 0.6). Mild edits (colour grade, sepia, JPEG) keep a face within about 0.2 of itself
while the two different people in the test set are 0.65-0.7 apart, so a distance can flag "a
different person or no face", but cannot certify likeness after heavy stylisation.

Everything here is synchronous and CPU-bound: async callers use ``asyncio.to_thread``.

    InvalidInput                INVALID_INPUT      400
    └── NoFaceFound             NO_FACE_DETECTED   422  (defined here)
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import dlib
import numpy as np
import numpy.typing as npt
from PIL import Image

from reelforge.errors import ConfigurationError, CorruptMedia, InvalidInput, MissingModelFiles

__all__ = [
    "MODELS_DIR_ENV",
    "DetectedFace",
    "Embedding",
    "FaceAnalyzer",
    "FaceBox",
    "FaceImage",
    "FaceModels",
    "NoFaceFound",
]

SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
MODELS_DIR_ENV = "REELFORGE_PROVIDERS__LOCAL__FACE_MODELS_DIR"
_MODELS_PACKAGE = "face_recognition_models"
_INSTALL_HINT = (
    f"Install them with `pip install 'reelforge[faces]'`, or download {SHAPE_PREDICTOR_FILE} and "
    f"{RECOGNITION_MODEL_FILE} (dlib-models, public domain) into one folder and set "
    f"{MODELS_DIR_ENV} (providers.local.face_models_dir) to that folder."
)
# HOG's sliding window is 80x80 px; a smaller detection copy could never hold a face.
_MIN_DETECT_SIDE = 80

FaceImage: TypeAlias = Image.Image | npt.NDArray[np.uint8]
"""A PIL image (any mode Pillow can convert to RGB) or a uint8 array (HxW, HxWx3 RGB, HxWx4)."""

Embedding: TypeAlias = npt.NDArray[np.float64]
"""A 128-D dlib face descriptor; compare two with the Euclidean distance."""


class NoFaceFound(InvalidInput):
    """The image has no detectable face, so there is nothing to describe or compare."""

    code = "NO_FACE_DETECTED"
    http_status = 422


class FaceBox(NamedTuple):
    """A face's box in original image pixels; ``right`` and ``bottom`` are exclusive (PIL crop)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One detected face.

    ``score`` is the HOG detector's confidence (real frontal faces measured 1.2-1.7; false
    positives below 0.1). ``area_ratio`` is face area / image area and ``height_ratio`` is face
    height / image height, both from the box clipped to the image.
    """

    box: FaceBox
    score: float
    area_ratio: float
    height_ratio: float


@dataclass(frozen=True, slots=True)
class FaceModels:
    """Paths to the two dlib model files that embeddings need. Nothing is read until used."""

    shape_predictor: Path
    recognition_model: Path

    @classmethod
    def locate(cls, models_dir: str | Path | None = None) -> FaceModels:
        """Find the model files in ``models_dir`` if given, else in ``face_recognition_models``.

        An explicit folder is the only place looked at, so a wrong setting is reported rather
        than silently replaced. Raises :class:`MissingModelFiles` with install instructions.
        """
        if models_dir is not None:
            folder = Path(models_dir).expanduser()
            origin = f"the folder {str(folder)!r} ({MODELS_DIR_ENV})"
        else:
            found = _installed_models_dir()
            if found is None:
                raise MissingModelFiles(
                    f"The dlib face models are not installed. {_INSTALL_HINT}",
                    details={"package": _MODELS_PACKAGE},
                )
            folder, origin = found, f"the installed {_MODELS_PACKAGE} package"
        models = cls(folder / SHAPE_PREDICTOR_FILE, folder / RECOGNITION_MODEL_FILE)
        missing = [
            p.name for p in (models.shape_predictor, models.recognition_model) if not p.is_file()
        ]
        if missing:
            raise MissingModelFiles(
                f"The dlib face model files {', '.join(missing)} are missing from {origin}. "
                f"{_INSTALL_HINT}",
                details={"models_dir": str(folder), "missing": missing},
            )
        return models


def _installed_models_dir() -> Path | None:
    # find_spec on a top-level name does not run the package, whose __init__ imports
    # pkg_resources (a deprecation warning, and gone in setuptools>=81).
    spec = importlib.util.find_spec(_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceAnalyzer:
    """Detects faces and computes dlib identity embeddings.

    The HOG detector and the model files are loaded on first use and kept for the life of the
    instance. If ``models`` is None the files are located (:meth:`FaceModels.locate`) the first
    time an embedding is needed, so :meth:`detect` works without them. ``min_score`` drops weak
    HOG detections: at dlib's default of 0.0 the astronaut's suit patch becomes a second, larger
    "face" after sepia or JPEG q40 (scores 0.005 and 0.074), which would win "largest face".
    """

    def __init__(
        self,
        models: FaceModels | None = None,
        *,
        detect_max_side: int = 640,
        min_score: float = 0.3,
    ) -> None:
        if detect_max_side < _MIN_DETECT_SIDE:
            raise ConfigurationError(
                f"detect_max_side must be at least {_MIN_DETECT_SIDE} px, got {detect_max_side}."
            )
        self._models = models
        self._detect_max_side = detect_max_side
        self._min_score = min_score
        # Not thread-safe in dlib: object_detector's operator() is non-const and loads each image
        # into its own scanner, and the ResNet forward pass writes per-layer output buffers.
        # shape_predictor's operator() is const (safe), but sits under the same lock for
        # simplicity. One lock per instance guards every dlib call and the lazy loading.
        self._lock = threading.Lock()
        self._detector: Any = None
        self._shape_predictor: Any = None
        self._recognizer: Any = None

    def detect(self, image: FaceImage) -> list[DetectedFace]:
        """All faces found by HOG on a copy at most ``detect_max_side`` px, largest first."""
        return self._detect(_as_rgb(image))

    def describe(self, image: FaceImage, face: DetectedFace | None = None) -> Embedding:
        """The 128-D embedding of ``face`` (default: the largest face) in ``image``.

        Raises :class:`NoFaceFound` if no face is given and none is detected, and
        :class:`MissingModelFiles` if the model files cannot be found or read.
        """
        rgb = _as_rgb(image)
        if face is None:
            face = _largest(self._detect(rgb), argument="image")
        return self._embed(rgb, face.box)

    def identity_distance(self, a: FaceImage, b: FaceImage) -> float:
        """Euclidean distance between the largest faces of ``a`` and ``b`` (0 = identical).

        Below about 0.6 dlib considers two faces the same person. Raises :class:`NoFaceFound`
        (``details.argument`` is ``"a"`` or ``"b"``) when an image has no face.
        """
        first, second = _as_rgb(a), _as_rgb(b)
        face_a = _largest(self._detect(first), argument="a")
        face_b = _largest(self._detect(second), argument="b")
        embedding_a = self._embed(first, face_a.box)
        embedding_b = self._embed(second, face_b.box)
        return float(np.linalg.norm(embedding_a - embedding_b))

    def _detect(self, image: Image.Image) -> list[DetectedFace]:
        width, height = image.size
        scale = max(width, height) / self._detect_max_side
        small = image
        if scale > 1:
            size = (max(1, round(width / scale)), max(1, round(height / scale)))
            small = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.ascontiguousarray(np.asarray(small))
        scale_x, scale_y = width / small.width, height / small.height
        with self._lock:
            if self._detector is None:
                self._detector = dlib.get_frontal_face_detector()
            rects, scores, _ = self._detector.run(pixels, 0, self._min_score)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            # dlib's right/bottom are inclusive and may lie outside the image.
            box = FaceBox(
                left=min(max(0, round(rect.left() * scale_x)), width),
                top=min(max(0, round(rect.top() * scale_y)), height),
                right=min(max(0, round((rect.right() + 1) * scale_x)), width),
                bottom=min(max(0, round((rect.bottom() + 1) * scale_y)), height),
            )
            if box.width > 0 and box.height > 0:
                faces.append(
                    DetectedFace(
                        box=box,
                        score=float(score),
                        area_ratio=box.width * box.height / (width * height),
                        height_ratio=box.height / height,
                    )
                )
        faces.sort(key=lambda face: face.area_ratio, reverse=True)
        return faces

    def _embed(self, image: Image.Image, box: FaceBox) -> Embedding:
        pixels = np.ascontiguousarray(np.asarray(image))
        rect = dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        with self._lock:
            shape_predictor, recognizer = self._load_models()
            shape = shape_predictor(pixels, rect)
            # Aligns a 150 px chip from the 5 landmarks (dlib.get_face_chip) before the ResNet.
            descriptor = recognizer.compute_face_descriptor(pixels, shape)
        return np.asarray(descriptor, dtype=np.float64)

    def _load_models(self) -> tuple[Any, Any]:
        # Called with the lock held.
        if self._shape_predictor is None or self._recognizer is None:
            models = self._models if self._models is not None else FaceModels.locate()
            self._models = models
            try:
                shape_predictor = dlib.shape_predictor(str(models.shape_predictor))
                recognizer = dlib.face_recognition_model_v1(str(models.recognition_model))
            except RuntimeError as exc:
                raise MissingModelFiles(
                    f"Could not load the dlib face models ({exc}). {_INSTALL_HINT}",
                    details={
                        "shape_predictor": str(models.shape_predictor),
                        "recognition_model": str(models.recognition_model),
                    },
                ) from exc
            self._shape_predictor, self._recognizer = shape_predictor, recognizer
        return self._shape_predictor, self._recognizer


def _largest(faces: list[DetectedFace], *, argument: str) -> DetectedFace:
    if not faces:
        raise NoFaceFound(f"No face was detected in {argument!r}.", details={"argument": argument})
    return max(faces, key=lambda face: face.area_ratio)


def _as_rgb(image: FaceImage) -> Image.Image:
    """An RGB PIL image; foreign decoding errors become Reelforge errors."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
            raise InvalidInput(
                "A face image array must be non-empty uint8 HxW, HxWx3 (RGB) or HxWx4 (RGBA).",
                details={"dtype": str(image.dtype), "shape": list(image.shape)},
            )
        if image.ndim == 3 and image.shape[2] not in (3, 4):
            raise InvalidInput(
                "A face image array must have 3 (RGB) or 4 (RGBA) channels.",
                details={"shape": list(image.shape)},
            )
        image = Image.fromarray(np.ascontiguousarray(image))
    if not isinstance(image, Image.Image):
        raise InvalidInput(
            "A face image must be a PIL image or a numpy array.",
            details={"type": type(image).__name__},
        )
    try:
        image.load()  # decode lazily opened files here, where errors are translated
        return image if image.mode == "RGB" else image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise CorruptMedia(
            f"The image could not be decoded as RGB: {exc}", details={"mode": image.mode}
        ) from exc
