"""Replicate's wire format on loopback: predictions, models, versions and signed webhooks.

Mounted at ``/replicate``, which stands for ``https://api.replicate.com`` (the official client's
``base_url``, without ``/v1``). Shapes follow the provider reference (§2): ``POST /v1/predictions``
(``version`` as ``owner/name:<id>``, ``owner/name`` or a 64-hex id) and
``POST /v1/models/{owner}/{name}/predictions`` answer 201 with the prediction object;
``GET /v1/predictions/{id}``; ``GET /v1/predictions`` (operation ``list``: every prediction,
newest first, 100 a page with an opaque ``cursor`` in the absolute ``next`` URL,
``created_after`` / ``created_before`` filters; see :mod:`reelforge.emulator.listings`);
``POST /v1/predictions/{id}/cancel`` answers the prediction (a finished one unchanged);
``GET /v1/models/{owner}/{name}`` and ``.../versions/{id}`` (what
``replicate.run("owner/name:<id>")`` reads); ``GET /v1/webhooks/default/secret``. Statuses go
``starting`` (queued) → ``processing`` → ``succeeded`` | ``failed`` | ``canceled``, and
``aborted`` when a ``Cancel-After`` deadline passes before the prediction started. ``Prefer: wait``
/ ``wait=N`` (N capped at 60) holds the create call until the prediction ends; a finished one is
answered with ``data:`` URIs as outputs (as Replicate's sync mode may), an unfinished one as
``starting`` (what the official client expects: it treats any other status as final). Outputs are
PNG/JPEG files on ``/_emulator/files`` (plain ``http:``, so the official client's ``run()``
returns them as strings, not ``FileOutput``). Errors are RFC 7807 problem details.

Where Replicate's behaviour is not documented the emulator picks something plausible:
``webp`` requests get PNG bytes; models named ``*-pro*`` / ``*ultra*`` answer one URL, others a
list; a 64-hex version the emulator never issued runs as model ``emulated/unknown``; validation
errors (422) carry ``invalid_fields``; a content rejection at create is 422 "flagged as sensitive
(E005)", inside a prediction the model's NSFW error; a webhook is sent once, on completion (not for
``start``/``output``/``logs`` events, nor for canceled predictions), signed with the fixed
emulator secret :data:`WEBHOOK_SECRET` (Standard Webhooks). The FLUX Kontext models
(``black-forest-labs/flux-kontext-pro``: ``input_image``;
``flux-kontext-apps/multi-image-kontext-pro``: ``input_image_1`` and ``input_image_2``) require
their image inputs (422 without them); those are the prediction's references in the ledger's
``received``.
"""

from __future__ import annotations

from reelforge.emulator.replicate.api import DUMMY_KEY, WEBHOOK_SECRET, ReplicateEmulator

__all__ = ["DUMMY_KEY", "WEBHOOK_SECRET", "ReplicateEmulator"]
