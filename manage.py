#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    from django.core.management import execute_from_command_line

    from governance.platform import localfiles

    localfiles.ensure()  # generated dev keys and folders, before Django reads the settings
    execute_from_command_line(sys.argv)
