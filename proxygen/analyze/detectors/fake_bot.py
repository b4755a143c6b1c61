"""fake_bot: a user agent claiming Googlebot, Bingbot, Applebot, GPTBot... from an address outside that
operator's published ranges (and outside its own ASN, where the ASN carries no customer machines).

With --verify-dns, a claim that fails the ranges check is given a second chance by forward-confirmed
reverse DNS (published lists can lag). Unless DNS answered with a name that is not the operator's, a
claim from the operator's own ASN or from next to its published ranges is only observed: blocking a real search engine because the shipped list is stale
is worse than letting a few requests through. Claims of a bot whose ranges are unknown are not judged.
"""

from __future__ import annotations

from proxygen.analyze.context import Context
from proxygen.analyze.findings import Hit, strength
from proxygen.signals.good_bots import claim_expression, claimed_bot

NAME = "fake_bot"
SUMMARY = "Good-bot user agents from addresses their operators do not crawl from."


def flags() -> dict:
    return {"claims_bot": claim_expression()}


def detect(ctx: Context) -> list[Hit]:
    import polars as pl

    df = ctx.by_ip
    if df is None or df.height == 0 or "flag_claims_bot" not in df.columns:
        return []
    t = ctx.settings.thresholds.fake_bot
    claimed = df.filter(pl.col("flag_claims_bot") >= t.min_requests).to_dicts()
    suspects = []
    for r in claimed:
        bot = claimed_bot(r.get("top_ua"))
        if bot is None or not ctx.verifier.verifiable(bot, r.get("asn")):
            continue
        if ctx.verifier.verify(bot, r["client_ip"], r.get("asn")) is None:
            suspects.append((r, bot))
    confirmed, answers = {}, {}
    if ctx.dns is not None and suspects:
        answers = ctx.dns.resolve_many([r["client_ip"] for r, _ in suspects])
        for r, bot in suspects:
            name = ctx.dns.confirms(r["client_ip"], bot.rdns_suffixes, answers.get(r["client_ip"]))
            if name:
                confirmed[r["client_ip"]] = name
    hits = []
    for r, bot in suspects:
        if r["client_ip"] in confirmed:
            continue
        n = r["flag_claims_bot"]
        numbers = {"claimed": bot.name, "operator": bot.operator, "claiming_requests": n,
                   "asn": r.get("asn"), "dns_checked": ctx.dns is not None}
        where = f"AS{r['asn']} {r.get('asn_org') or ''}".strip() if r.get("asn") else "an address"
        answer = answers.get(r["client_ip"])
        # DNS settles it only when it answered with a name (that is not the operator's, or does not
        # resolve back); no answer at all may just mean no network
        dns_says_no = bool(answer and answer[0])
        why = (f"claims to be {bot.name} in {n:,} requests from {where} outside {bot.operator}'s published ranges"
               + (f" and its reverse DNS ({answer[0]}) is not {bot.operator}'s" if dns_says_no else ""))
        action = "block"
        near = None if dns_says_no else ctx.verifier.near_miss(bot, r["client_ip"], r.get("asn"))
        if near:
            action = "observe"
            numbers["near_miss"] = near
            why += f", but {near}: confirm with --verify-dns or refresh with `crawlers update-ranges`"
        hits.append(Hit(NAME, "ip", r["client_ip"], action, 0.6 + 0.4 * (strength(n, 10) - 0.5), numbers, why))
    return hits
