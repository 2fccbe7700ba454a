"""The regulator's real-name platform (实名信息平台, "总对总"): a service of its own, with its own database
and keys, that takes signed batches of sealed records from carriers, opens them, stores them encrypted at
rest and answers signed receipts. It imports no carrier domain: only `core`, `crypto`, the wire format
(`regulator.protocol`) and `identity.documents` (to normalise a document number for its blind index).
"""
