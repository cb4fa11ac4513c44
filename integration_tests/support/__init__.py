"""What the integration tests (and the demo and benchmarks) share, in one place.

- `graph_stand_in/`: a real HTTP server on 127.0.0.1 that answers like Meta's Graph API (events,
  pixel node, stats, dataset quality), with scripted faults.
- `push_harness`: runs the real source (the CDK entrypoint) over a staging bucket.
- `s3`: moto's standalone S3/SQS/Secrets Manager/Glue server on 127.0.0.1 and bucket helpers (the
  session fixtures in integration_tests/conftest.py use it).
- `receiver_servers`: the receiver app under a real uvicorn on a free loopback port, in a thread.
- `clocks`: a monotonic clock that advances only when slept on (backoff recorded, not waited).
- `deploy_modules`: loads a module of deploy/ (a folder of scripts, not a package) by path.

The reliability suite's own helpers (traffic generator, fault proxy, receiver processes it
SIGKILLs, privacy audit) stay in integration_tests/reliability/: nothing else uses them.
"""
