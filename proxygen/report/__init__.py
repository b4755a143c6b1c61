"""Reports of a crawler analysis: a terminal table, a JSON document with a stable schema, an HTML page.

Reports only present an `Analysis`; they compute nothing about clients.
"""
