"""Motion segments: storyboard key frames grouped into short video segments, tracked by webhook
and polling through the job engine, stored under the spec's keys, and joined into a preview.

Kept free of imports so that :mod:`reelforge.settings` can load :mod:`.config` cheaply.
"""
