# The gateway image: Django REST Framework under gunicorn, no TensorFlow runtime.
#
# Size: python:3.11 slim (~130 MB) + the venv (~190 MB: numpy ~73 MB, Django ~50 MB,
# grpcio ~19 MB, psycopg's bundled libpq ~12 MB) + app and static files (~10 MB),
# about 330 MB. Installing tensorflow-serving-api normally would pull in all of
# TensorFlow (2.0 GB installed with its 27 dependencies, an image of ~2.3 GB) just for
# ~35 generated *_pb2 modules (0.15 MB) the web tier reads. So the build stage installs
# tensorflow-serving-api with --no-deps and copies only the TensorFlow proto modules
# it imports (deploy/image/copy_tf_protos.py); tfserving/protos.py loads
# them without running TensorFlow's __init__, and any other `import tensorflow` in
# this image fails with a clear ImportError.
#
# Build:  docker build -t tfserving-gateway .
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
COPY deploy/requirements-gateway.txt deploy/requirements-protos.txt deploy/image/copy_tf_protos.py ./

# Every dependency is a manylinux wheel (psycopg-binary bundles libpq), so neither
# stage needs compilers or apt packages.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements-gateway.txt

# tensorflow is installed only to lend its *_pb2 files, then uninstalled in the same
# layer; its dependencies are never installed (--no-deps).
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -r requirements-protos.txt \
    && /opt/venv/bin/python copy_tf_protos.py \
        --tensorflow-from /opt/venv/lib/python3.11/site-packages \
        --serving-api /opt/venv/lib/python3.11/site-packages \
        --to /build/protos \
    && /opt/venv/bin/pip uninstall --yes tensorflow \
    && cp -r /build/protos/tensorflow /opt/venv/lib/python3.11/site-packages/ \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}

# Production mode by default: settings refuse to start without a real secret key and
# with DEBUG on. GATEWAY_BIND listens on all interfaces inside the container.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production \
    GATEWAY_BIND=0.0.0.0:8000

RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin gateway

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY manage.py ./
COPY models/models.config models/models.config
# The web tier's packages, one line each (and one "!" line each in .dockerignore).
COPY serving_project/ serving_project/
COPY predictions/ predictions/
COPY tfserving/ tfserving/

# Static files (admin, browsable API, API docs) are collected at build time and served
# by whitenoise; the key and database below exist only for this command (production
# settings refuse to load without a key) and are not kept in the image.
# Byte-compiling the app keeps worker start-up fast on a read-only root filesystem.
RUN DJANGO_SECRET_KEY=collectstatic-only-build-time-key-not-used-at-run-time-0123456789 \
        DATABASE_URL=sqlite://:memory: \
        python manage.py collectstatic --noinput \
    && python -m compileall -q .

USER 10001:10001
EXPOSE 8000

# No curl in the slim image: the standard library does the probe. /healthz is liveness
# only (no database or model server), so a dependency outage does not restart workers.
# Host "localhost" must be in DJANGO_ALLOWED_HOSTS: Django rejects unknown hosts (400).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': 'localhost'}), timeout=4)"]

CMD ["gunicorn", "-c", "serving_project/gunicorn.conf.py", "serving_project.wsgi"]
