"""The hypothesis settings every property of this folder runs under, so `make test` is
repeatable and bounded: a fixed seed (derandomize: the same examples on every machine and
every run, so a failure seen once is seen again), a bounded number of examples (the whole
folder runs in well under a minute on two cores), no deadline (a shared CI machine's pauses
are not failures) and no example database. Hypothesis's other caches (its Unicode tables,
the constants it collects from the code) go to a folder of the temporary directory rather
than `.hypothesis/` in the checkout.

The default profile does not shrink: hypothesis may spend up to five minutes shrinking one
failure of these large inputs, and `make test` must stay bounded when a property fails. The
failing example is still reported, and is the same on every run. To see it minimal, run
`GOVOPS_HYPOTHESIS_PROFILE=govops-shrink pytest tests/properties -k NAME`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

PROFILE = "govops-properties"
SHRINKING = "govops-shrink"

# Read when hypothesis first stores something (during the first test), so set here in time.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      str(Path(tempfile.gettempdir()) / "govops-hypothesis"))

settings.register_profile(
    PROFILE,
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    print_blob=False,
    phases=(Phase.explicit, Phase.generate),
    # Hostile inputs are large on purpose (a 5,000-digit integer, 3,000 nested brackets).
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)
settings.register_profile(
    SHRINKING, settings.get_profile(PROFILE),
    phases=(Phase.explicit, Phase.generate, Phase.shrink))
settings.load_profile(os.environ.get("GOVOPS_HYPOTHESIS_PROFILE", PROFILE))
