"""The AIBOM stage: a CycloneDX 1.6 ML-BOM of one revision (`build.py`) and the difference
between two of them (`diff.py`). It reads a catalog, never git, and never imports the policy
stage; `engine.commands.bom` wires it to the repository."""
