"""PX112: a site's certificate is not among those the host declares as provisioned."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule


def check(ctx):
    for host_name, host in sorted(ctx.settings.hosts.items()):
        if host.certificates is None:
            continue
        provisioned = set(host.certificates)
        for name in host.sites:
            site = ctx.repo.sites.get(name)
            if site is None or site.tls is None or site.tls.certificate in provisioned:
                continue
            yield Hit(ctx.repo.site_file(name), ("tls", "certificate"),
                      f"certificate {site.tls.certificate} is not provisioned on host {host_name} (proxygen.yml "
                      f"hosts.{host_name}.certificates); issue it there first, then list it")


RULE = Rule(
    code="PX112", name="certificate-not-on-host", severity="error",
    summary="A site served by a host uses a certificate the host does not list as provisioned.",
    doc="""nginx refuses to start, or to reload, when a `ssl_certificate` file is missing: moving a site to
another proxy, or adding one, needs its certificate issued on that proxy first (certbot, DNS-01 for
wildcards). A host may list the certificate directories it has under `certificates:` in proxygen.yml;
lint then reports every site of the host whose `tls.certificate` is not listed, at the site's line, so
the pull request cannot merge before the certificate exists. (`lint --nginx` run on the proxy itself
uses the real files and fails on a missing one too, but only there.) Fix: issue the certificate on the
host and add its directory name to the list, or point `tls.certificate` at the one that covers the
name.""",
    check=check,
)
