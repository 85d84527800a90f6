"""Inventory models. Each module adds its models here so Django (and imports) find them."""

from inventory.models.core import *  # noqa: F401,F403
from inventory.models.crawling import *  # noqa: F401,F403
from inventory.models.fetching import *  # noqa: F401,F403
from inventory.models.findings import *  # noqa: F401,F403
from inventory.models.protocol import *  # noqa: F401,F403
