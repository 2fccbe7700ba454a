"""A carrier's keys as its security officers manage them: the key-encryption key versions, rotation and
re-wrapping progress, over `crypto.keyring`."""
