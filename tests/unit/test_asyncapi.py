"""The AsyncAPI document's addresses are the subjects the services use
(``relaygraph.subjects``): another prefix shows in the document."""

from __future__ import annotations

from relaygraph import asyncapi
from relaygraph.subjects import Subjects


def test_the_channels_are_the_services_subjects_under_any_prefix() -> None:
    for prefix in ("relaygraph", "acme"):
        subjects = Subjects(prefix)
        doc = asyncapi.document(prefix)
        channels = {ch["address"]: ch for ch in doc["channels"].values()}
        assert set(channels) == {
            subjects.interrupts("{graph_id}", "{thread_id}"),
            subjects.resume("{thread_id}"),
        }
        for address, channel in channels.items():
            assert address.startswith(f"{prefix}.")
            assert channel["bindings"]["nats"]["subject"] == address
        assert subjects.interrupts_stream in "".join(c["description"] for c in channels.values())
    assert asyncapi.document()["channels"] == asyncapi.document(Subjects().prefix)["channels"]
