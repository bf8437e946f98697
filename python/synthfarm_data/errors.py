"""The package's errors. Each message names what is wrong: the URI, the object key or the
field, so that a bad path or a damaged dataset is found from the message alone."""


class DatasetError(Exception):
    """A dataset cannot be opened or read: a bad URI, a missing or malformed manifest, a
    missing object, an unknown layer name."""


class VerifyError(DatasetError):
    """Objects of a dataset differ from its manifest. `problems` lists one line per object
    (its key, or the tar member as "shards/000001.tar:00000042.exr") and what differs."""

    def __init__(self, problems):
        self.problems = list(problems)
        head = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{len(self.problems)} object(s) differ from manifest.json: {head}{more}")
