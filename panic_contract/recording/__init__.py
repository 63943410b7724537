"""Recording fixtures from a live target: fetched, scrubbed and written all or nothing, with the shape diff.

`recorder` plans the exchanges, fetches them through the sender and writes the fixtures; `scrub` takes the
personal values out of a body; `shape` says how a recording's shape moved against the earlier fixtures.
"""
