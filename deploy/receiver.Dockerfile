# The receiver image: `meta-capi-receiver serve` (the default command) and its jobs
# (`redrive`, `reconcile`), as the Fargate tasks of deploy/template.yaml run them.
#
#   make receiver-image [RECEIVER_BASE_IMAGE=…] [RECEIVER_IMAGE=…]
#   docker run --rm -p 8080:8080 -e META_CAPI_STAGING_URL=s3://bucket/capi -e META_CAPI_WEBHOOK_SECRETS=… meta-capi-receiver:dev
#   docker run --rm -e … meta-capi-receiver:dev redrive
#
# The base image is a build argument (any Python 3.11 image; the default is Docker Hub's official
# image through ECR Public, which AWS builders reach without Docker Hub's pull limits). Only the
# receiver's dependencies are installed, from exact pins, and only the receiver's part of the
# package is copied: no airbyte-cdk, as in the Lambda package.
ARG BASE_IMAGE=public.ecr.aws/docker/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
WORKDIR /build
COPY deploy/receiver-requirements.txt deploy/receiver-server-requirements.txt ./
RUN python3 -m venv /opt/receiver \
    && /opt/receiver/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
       -r receiver-requirements.txt -r receiver-server-requirements.txt \
    && /opt/receiver/bin/python -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version"
COPY source_meta_capi/__init__.py /opt/receiver/app/source_meta_capi/__init__.py
COPY source_meta_capi/receiver /opt/receiver/app/source_meta_capi/receiver
COPY source_meta_capi/capi /opt/receiver/app/source_meta_capi/capi
COPY source_meta_capi/staging /opt/receiver/app/source_meta_capi/staging
# The console script, without installing the whole distribution (whose dependencies include the CDK).
RUN printf '#!/opt/receiver/bin/python\nimport sys\nfrom source_meta_capi.receiver.cli import main\nsys.exit(main())\n' \
       > /opt/receiver/bin/meta-capi-receiver \
    && chmod 0755 /opt/receiver/bin/meta-capi-receiver \
    && find /opt/receiver/app -name '__pycache__' -prune -exec rm -rf {} + \
    && /opt/receiver/bin/python -m compileall -q /opt/receiver/app \
    && PYTHONPATH=/opt/receiver/app /opt/receiver/bin/python -c \
       "import sys, source_meta_capi.receiver.cli, source_meta_capi.receiver.app, source_meta_capi.receiver.jobs; assert not [m for m in sys.modules if m.startswith('airbyte')]"

FROM ${BASE_IMAGE}
COPY --from=builder /opt/receiver /opt/receiver
ENV PATH="/opt/receiver/bin:${PATH}" \
    PYTHONPATH=/opt/receiver/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    META_CAPI_HOST=0.0.0.0 \
    META_CAPI_PORT=8080
# Runs unprivileged; the jobs' tasks mount /tmp and keep the root filesystem read-only.
RUN id receiver >/dev/null 2>&1 || useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin receiver
USER 10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["meta-capi-receiver"]
CMD ["serve"]
LABEL org.opencontainers.image.title="meta-capi-receiver" \
      org.opencontainers.image.description="Webhook receiver for Meta's Conversions API: stage write-once, forward, redrive, reconcile" \
      org.opencontainers.image.version="0.1.0"
