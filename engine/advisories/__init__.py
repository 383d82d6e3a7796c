"""The advisories stage: OSV records (`records.py`) and which locked packages they affect
(`match.py`, PEP 440 ranges). Fed to both the policy input (ENV-003) and the AIBOM's
vulnerabilities, so the two always agree."""
