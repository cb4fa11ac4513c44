# Airbyte Python connector image: `docker run airbyte/source-meta-capi spec|check|discover|read …`.
# The base image is a build argument (metadata.yaml's connectorBuildOptions.baseImage), so local
# builds without a registry can pass their own Python 3.11 image.
#
# Lean by construction (`make docker-smoke` prints the size and the largest parts):
# - the builder builds the wheel and installs it, with its runtime dependencies only (`.`, no
#   extras: the receiver's server stack is the `receiver` extra and stays out);
# - no pip cache, and pip/setuptools/wheel are removed from the venv once it is complete: nothing
#   installs packages at run time;
# - bytecode is compiled once, deliberately, in the builder: the platform starts a new container
#   for every spec/check/discover/read, and compiling the CDK's modules on each start costs seconds
#   (a non-root user could not write __pycache__ under /opt anyway); PYTHONDONTWRITEBYTECODE keeps
#   the running container from writing any more.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY pyproject.toml README.md spec.yaml ./
COPY source_meta_capi ./source_meta_capi
RUN python3 -m venv /opt/connector \
    && /opt/connector/bin/pip install --no-cache-dir --no-compile . \
    && /opt/connector/bin/python -m pip uninstall --yes --quiet pip setuptools wheel \
    && find /opt/connector -depth -type d -name __pycache__ -exec rm -rf {} + \
    && /opt/connector/bin/python -m compileall -q -j 0 /opt/connector/lib \
    && /opt/connector/bin/python -c "import importlib.util as u, sys; \
extra = [m for m in ('pip', 'setuptools', 'wheel', 'starlette', 'uvicorn', 'mangum', 'prometheus_client') if u.find_spec(m)]; \
sys.exit(f'not for the connector image: {extra}' if extra else 0)" \
    && /opt/connector/bin/source-meta-capi spec >/dev/null

FROM ${BASE_IMAGE}
COPY --from=builder /opt/connector /opt/connector
ENV PATH="/opt/connector/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AIRBYTE_ENTRYPOINT="source-meta-capi"
WORKDIR /airbyte/integration_code
# The platform runs connectors as a non-root user; create it when the base image has none.
RUN id airbyte >/dev/null 2>&1 || useradd --create-home --uid 1000 airbyte
USER airbyte
ENTRYPOINT ["source-meta-capi"]
LABEL io.airbyte.name=airbyte/source-meta-capi \
      io.airbyte.version=0.1.0
