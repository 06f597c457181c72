"""The character image workspace (spec: character-image-workspace.md).

Characters with the visual facts their prompts are built from; their reference, 360° portfolio
and scene images, generated through the job engine and ingested into the media store; the
``character-image-metadata`` rows that say what each image is and how it was made, recorded by
the feature's finish step when a run ends.

Kept import-free on purpose: the settings import :mod:`.config`, so this package must not pull
in services or faces.
"""
