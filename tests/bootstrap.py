"""pytest plugin (pytest.ini: -p tests.bootstrap): makes the development keys and folders
(governance.platform.localfiles) before pytest-django imports the settings, as manage.py does."""

import pytest

from governance.platform import localfiles


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before every plain implementation, pytest-django's (which loads settings)
    # included.
    localfiles.ensure()
    return (yield)
