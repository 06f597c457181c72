"""Cutscenes: story moments into a still and a clip, in the background, within a budget.

An app (or its agent) reports a moment with ``trigger_cutscene``; the answer comes at once
with the media ids and ``media_pending: true``; the still and then the clip are runs of the job
engine, chained by their finish steps (:mod:`.finishing`), and each is announced over a
server-sent event stream per campaign session. See :mod:`.service` for the flow,
:mod:`.classifier` for apps without an agent.
"""
