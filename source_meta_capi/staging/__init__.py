"""The staging contract shared by the receiver (writer side) and the source (reader side).

See docs/staging-format.md for the format. Pure: no airbyte_cdk, no starlette.
"""
