"""The industry blacklist's platform (行业安全自律平台): a service of its own, with its own database and root key,
that registered carriers report people to and query at hiring, each request signed with the carrier's Ed25519
key. It imports no carrier domain: only `core`, `crypto` and the wire format (`blacklist.protocol`).

What it can and cannot know. Carriers hash a document number under the **industry key**, which they all share
and the platform never holds: HMAC-SHA256, not a plain hash, because there are only about 10^11 resident ID
numbers (6 region digits of a few thousand codes, a birth date, 3 sequence digits, a check character), which a
laptop hashes through in hours; without the key nobody can test a guess against a `person`. The platform then
keys what it receives once more under its own root key (`keys.BlacklistKeys`) before storing it, so its
database, even leaked together with the industry key, answers no guess either: that takes its root key too.
"""
