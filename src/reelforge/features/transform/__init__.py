"""Transform ("The Cinematic Switch"): put the person from a photo or video into a new scene.

The usual feature files: :mod:`.schemas` (the spec's envelopes), :mod:`.service`,
:mod:`.repository` with :mod:`.tables` (the ``transforms`` tables), :mod:`.routes` (the spec's
endpoints and the page) and :mod:`.tools` (MCP); and the transform's own steps:
:mod:`.validation` (the spec's limits and messages, the face check), :mod:`.upload` (the
streaming multipart reader), :mod:`.intake` (media into the store), :mod:`.inputs` and
:mod:`.framing` (what each provider is given), :mod:`.planning` (providers and engine jobs),
:mod:`.prompt`, :mod:`.identity` and :mod:`.results`. Settings: :mod:`.config`.

This package's ``__init__`` imports nothing on purpose: the settings import the config, so
importing it must stay free of cycles.
"""
