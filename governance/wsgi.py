import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
django_application = get_wsgi_application()

# The native ingest endpoint skips Django's middleware stack (see audit/wsgi_fast.py); every
# request's environ loses the server's copy of the process environment (ditto).
from audit.wsgi_fast import IngestFastPath  # noqa: E402  (needs the settings above)

application = IngestFastPath(django_application)

# Everything loaded so far lives as long as the process: keep it out of the cyclic garbage
# collector's older-generation passes, which otherwise walk all of Django's objects again and
# again while a large batch allocates its events (~8% of a 1,000-event request's CPU, measured).
gc.freeze()
