"""``python -m cnnapp``: the same as the ``cnnapp`` command."""
import sys

from .cli import main

sys.exit(main())
