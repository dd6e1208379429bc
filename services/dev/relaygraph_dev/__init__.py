"""relaygraph on one machine: the ``relaygraph dev`` launcher and the real
nats-server / valkey-server processes it (and the test suite) starts. A
development dependency only: production images leave it out."""
