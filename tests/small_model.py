"""The one small model the tests train: a run on toyshop-tiny in about a second an epoch.

``small(*flags)`` is the command line of such a run (toyshop-tiny, the small sizes, no bars)
with each test's own flags after it; ``SIZES`` alone sizes a run on other data.
"""
SIZES = ["--max-len", "8", "--d-model", "16", "--token-hidden", "8", "--channel-hidden", "16", "--n-layers", "1"]


def small(*flags, data="toyshop-tiny") -> list:
    return ["--data", data, *SIZES, "--no-progress", *flags]
