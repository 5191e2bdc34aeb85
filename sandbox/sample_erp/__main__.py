"""python -m sandbox.sample_erp: write a sample ERP database (see the package's docstring)."""

import sys

from sandbox.sample_erp import main

sys.exit(main())
