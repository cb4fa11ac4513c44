"""The webhook receiver: verifies, validates, normalizes, stages and forwards mirrored CAPI events.

Never imports airbyte_cdk (the Lambda artifact stays small; a test proves it). Entry points:
`source_meta_capi.receiver.app.create_app`, `source_meta_capi.receiver.lambda_handler.handler`
and the `meta-capi-receiver` console script (`source_meta_capi.receiver.cli:main`).
"""
