"""Keyframes: a storyboard's frames and its characters' visual signatures become rendered key
frames with a consistent style (the spec's MCP tool ``render_storyboard_frames``).

:mod:`.service` plans and answers renders; :mod:`.routes` (``/v1/keyframes``), :mod:`.tools`
(MCP), :mod:`.pages` (``/runs/{id}``) and ``reelforge render`` are its faces.
"""
