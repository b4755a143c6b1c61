"""PX003: the real `nginx -t` rejects a host's generated config (lint --nginx)."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX003", name="nginx-test-failed", severity="error",
    summary="`nginx -t` on the host's generated config failed (only with lint --nginx).",
    doc="""With --nginx, each host is built for a sandbox (throwaway certificates where the real ones are
missing, high ports, temp paths) and checked by the installed nginx with `nginx -t`. This catches what
only nginx knows: buffer sizes that contradict each other, hash sizes, modules missing from the build.
The message carries nginx's own output. The check targets the installed nginx version, which lint
prints when it differs from the host's declared version.""",
)
