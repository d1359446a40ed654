"""``python -m modelserver``: parse TF Serving's flags, then serve until SIGTERM/SIGINT."""

from __future__ import annotations

import os
import sys


def main() -> int:
    # Flags are parsed before TensorFlow is imported so --help answers at once, and
    # TensorFlow's C++ start-up chatter is hidden unless the caller asks for it.
    from modelserver.flags import parse_options

    options, warnings = parse_options(sys.argv[1:])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from modelserver.server import serve

    return serve(options, warnings)


if __name__ == "__main__":
    sys.exit(main())
