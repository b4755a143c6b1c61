"""Replay logs through the rules a build would apply (blocklists + limit_req zones), the nginx way.

`limit_req` is nginx's leaky bucket to the millisecond, `rules` the blocklist's geo/map decisions,
`engine` the per-request pipeline and log replay, `report` the counts and the collateral.
"""
