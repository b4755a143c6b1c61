"""Crawler analysis: detectors over aggregated traffic, findings with evidence, allowlists, scoring.

Python API: `proxygen.analyze.run.analyze(paths, settings=..., allowlists=...) -> Analysis`.
"""
