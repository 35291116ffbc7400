"""Runs the pytest suite for ctest; exits 77 (ctest's SKIP_RETURN_CODE) when pytest, NumPy or
SciPy is missing, so a machine without them reports the suite as skipped, not passed."""
import os
import sys

try:
    import numpy  # noqa: F401  (the suite needs it; imported here to skip clearly)
    import pytest
    import scipy  # noqa: F401
except ImportError as e:
    print(f"python tests skipped: {e} (install python3-pytest python3-numpy python3-scipy)")
    sys.exit(77)

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", os.path.dirname(os.path.abspath(__file__))]
                     + sys.argv[1:]))
