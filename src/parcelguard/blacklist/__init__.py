"""The industry blacklist (行业安全自律平台): those who sold users' data are never hired again (永不录用).

`platform/` is the blacklist's own service (its database, root key, app and commands); `protocol` is the
wire format both sides speak; `client`, `service`, `flows` and `api` are the carrier's side: hash a staff
member's document under the industry key, ask the blacklist at hiring, report a person. docs/blacklist.md.
"""
