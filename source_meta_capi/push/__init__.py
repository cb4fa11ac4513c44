"""Push mode: the streams that read the receiver's staging bucket.

Deliberately empty: the record decoder workers are spawned interpreters that import
`push.decoder_pool` (and through it `push.object_checks`, `push.record_checks`), and importing this
package must not pull airbyte_cdk into them.
"""
