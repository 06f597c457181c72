"""The version stamped on the engine's workflows: what decides which code may resume them.

DBOS stamps every workflow with the application version of the process that starts it, and
resumes a workflow (recovery after a crash, the reaper's take-over, dequeueing) only in a
process of the *same* version. Stamping Reelforge's package version would strand every run in
flight at each upgrade, paid submits included. So the engine stamps
:data:`WORKFLOW_COMPAT_VERSION`, which changes only when a change to the workflow code would
make an old workflow's checkpoints unreadable by the new code: a step added, removed or moved in
``reelforge.run`` or ``reelforge.job``, a step's result or a workflow's arguments in a shape the
new code cannot read, a workflow or step renamed.

Prefer keeping the version: guard a changed step sequence with ``DBOS.patch_async`` (old
workflows take the old path, new ones the new path) and retire the old path a release later. When
the version must change, older runs are drained by a worker of the previous release, or adopted
with ``reelforge engine adopt --from-version OLD`` (:mod:`reelforge.engine.adoption`); see
``docs/upgrading.md``.

Its first value is the package version that releases stamped before this constant existed, so
that their runs in flight resume after the upgrade without any step.
"""

from __future__ import annotations

__all__ = ["WORKFLOW_COMPAT_VERSION"]

WORKFLOW_COMPAT_VERSION = "0.1.0"
