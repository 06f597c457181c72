"""Prompt templates shared by the features: versioned files, hot reloaded, rendered by slot.

- :mod:`reelforge.prompts.template`: the file format and the rendering rules;
- :mod:`reelforge.prompts.library`: :class:`~reelforge.prompts.library.PromptLibrary`
  (``services.prompts``), which finds, reloads and versions templates;
- :mod:`reelforge.prompts.characters`: which characters a storyboard text mentions.

The bundled templates are in ``templates/``; see each file for its parts and slots.
"""
