"""source-meta-capi: an Airbyte source and webhook receiver for Meta's Conversions API.

Kept deliberately empty: importing the receiver (or the Lambda handler) must not pull in
airbyte_cdk, so nothing here imports the source.
"""
