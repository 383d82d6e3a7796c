"""Format-v1 objects of a governed repo, with the file and line of every field.

Parses YAML and lock files from git blobs (never the working tree), validates their structure,
and caches each parse by blob id. Knows nothing of policies.
"""

from engine.catalog.cache import ParseCache
from engine.catalog.load import CONFIG_PATH, CatalogLoader, is_yaml, load_catalog, open_loader
from engine.catalog.model import Catalog, Config, EnvironmentLock, GovObject

__all__ = ["CONFIG_PATH", "Catalog", "CatalogLoader", "Config", "EnvironmentLock", "GovObject",
           "ParseCache", "is_yaml", "load_catalog", "open_loader"]
