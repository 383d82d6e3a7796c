"""govops: policy-as-code governance for AI infrastructure kept in git.

One sub-package per stage (repo, catalog, policy, report); stages exchange frozen dataclasses
and never reach into each other's internals.
"""

__version__ = "0.1.0"
