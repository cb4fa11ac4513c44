# Airbyte Python connector image: `docker run airbyte/source-meta-capi spec|check|discover|read …`.
# The base image is a build argument (metadata.yaml's connectorBuildOptions.baseImage), so local
# builds without a registry can pass their own Python 3.11 image.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
COPY pyproject.toml README.md spec.yaml ./
COPY source_meta_capi ./source_meta_capi
RUN python3 -m venv /opt/connector \
    && /opt/connector/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/connector/bin/pip install --no-cache-dir .

FROM ${BASE_IMAGE}
COPY --from=builder /opt/connector /opt/connector
ENV PATH="/opt/connector/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    AIRBYTE_ENTRYPOINT="source-meta-capi"
WORKDIR /airbyte/integration_code
# The platform runs connectors as a non-root user; create it when the base image has none.
RUN id airbyte >/dev/null 2>&1 || useradd --create-home --uid 1000 airbyte
USER airbyte
ENTRYPOINT ["source-meta-capi"]
LABEL io.airbyte.name=airbyte/source-meta-capi \
      io.airbyte.version=0.1.0
