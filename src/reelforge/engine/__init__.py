"""The job engine: provider jobs as durable DBOS workflows, on queues with global limits.

Features use :class:`reelforge.engine.service.EngineService` (``services.engine``): a run of
:class:`JobSpec` s, each with its :class:`RetryPolicy` and :class:`WaitPolicy`. The modules:

- :mod:`.config`: the ``engine`` settings (embedded SQLite or scale-out PostgreSQL, limits);
- :mod:`.specs`: what a feature hands over; :mod:`.outcomes`: what each step returns, typed,
  and how DBOS checkpoints it; :mod:`.states`: the JSON shapes of provider states;
- :mod:`.runtime`: DBOS in this process (roles, the one-process lock, queues, start and stop);
- :mod:`.workflows` and :mod:`.operations`: the run and provider-job workflows, and their steps;
- :mod:`.events`: run progress events; :mod:`.reaper`: heartbeats and taking over dead work;
- :mod:`.versioning`: the version stamped on workflows; :mod:`.adoption`: moving workflows of
  an older version onto this one (``reelforge engine adopt``);
- :mod:`.service`: the facade; :mod:`.routes` and :mod:`.webhooks`: the HTTP face.

The package itself imports nothing, so reading settings (which import :mod:`.config`) stays
cheap; import what you need from its module.
"""
