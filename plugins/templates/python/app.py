"""A rotation plugin for the secrets gateway, in Python. Replace each step's body with what your
target needs; the README next to this file says how to build, check and try it.

componentize-py generates the `wit_world` package from the gateway's WIT when it builds this
module; `componentize-py -d wit -w basic-rotator bindings .` writes it out for your editor.
"""

from typing import Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.log import Level, log
from wit_world.imports.types import Context, StepError_Fatal


class Steps(exports.Steps):
    def create_secret(self, context: Context) -> Optional[str]:
        """Return the new value yourself, or None to let the gateway copy the current JSON with
        a new `password`."""
        return None

    def set_secret(self, context: Context) -> None:
        """Make the target accept `context.pending`. Must also succeed if it already does."""
        if context.pending is None:
            raise Err(StepError_Fatal("no AWSPENDING version to set"))
        log(Level.INFO, f"setSecret for {context.secret_id} (token {context.token})")

    def test_secret(self, context: Context) -> None:
        """Prove that `context.pending` works against the target."""

    def finish_secret(self, context: Context) -> None:
        """Runs after AWSCURRENT moved to the new version: revoke what must be revoked."""
