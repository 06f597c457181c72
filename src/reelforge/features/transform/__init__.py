"""Transform ("The Cinematic Switch"): put the person from a photo or video into a new scene.

The usual feature files: :mod:`.schemas` (the spec's envelopes), :mod:`.service` (plan a run
per provider, finish it), :mod:`.repository` with :mod:`.tables` (the ``transforms`` tables),
:mod:`.routes` (the spec's endpoints), :mod:`.pages` (the page) and :mod:`.tools` (MCP); and
the transform's own steps: :mod:`.validation` (the spec's limits and messages, the face check),
:mod:`.upload` (the streaming multipart reader), :mod:`.intake` (media into the store),
:mod:`.inputs` and :mod:`.framing` (what each provider is given), :mod:`.planning` (providers,
engine jobs, the run's recorded input), :mod:`.prompting`, :mod:`.identity` and
:mod:`.scoring` (the identity scores), and :mod:`.results` (responses and records). Settings:
:mod:`.config`.

This package's ``__init__`` imports nothing on purpose: the settings import the config, so
importing it must stay free of cycles.
"""
