"""proxygen: compile OFF's NGINX reverse-proxy configs and mitigate abusive crawlers.

The package is a library first; `proxygen.cli` is one client of it. Heavy
dependencies (polars, crossplane, jinja2) are imported by the modules that need
them, so `import proxygen` and `proxygen --help` stay fast.
"""

__version__ = "0.1.0"
