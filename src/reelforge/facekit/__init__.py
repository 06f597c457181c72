"""What the faces and every feature's routes, tools and pages share, below the features.

Features never import a face (``api``, ``mcp``, ``web``, ``cli``) or the composition root:
their routes, MCP tools and pages are built from their own service and these parts.

- :mod:`reelforge.facekit.pages`: the page templates (kept in ``reelforge/web/templates``) and
  static files;
- :mod:`reelforge.facekit.ranges`: stored objects served with byte ranges.
"""
