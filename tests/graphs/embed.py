"""A toy embedding for the Store's semantic search in tests: how often each
of a few letters occurs in a text (no model, no network)."""


def letters(texts: list[str]) -> list[list[float]]:
    return [[float(t.lower().count(c)) for c in "aeiouxyz"] for t in texts]
