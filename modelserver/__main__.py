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
    # TensorFlow's kernels without oneDNN, as TF Serving's standard CPU build runs them:
    # oneDNN's convolution aborts the whole process on an input of the wrong rank (a
    # CHECK failure, not an error status), where the Eigen kernel answers
    # INVALID_ARGUMENT "convolution input must be 4-dimensional" as TF Serving does.
    # It also returns a large call's memory to the system afterwards.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from modelserver.startup_noise import filtered_native_stderr

    with filtered_native_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the first device lookup is where CUDA is probed
    from modelserver.server import serve

    return serve(options, warnings)


if __name__ == "__main__":
    sys.exit(main())
