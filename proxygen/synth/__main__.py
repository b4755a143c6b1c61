"""`python -m proxygen.synth --lines N --seed S --out FILE [--asn-db FILE]`: write a synthetic log."""

from __future__ import annotations

import argparse
import sys

from proxygen.synth import generate, write_asn_mmdb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxygen.synth", description=__doc__)
    parser.add_argument("--lines", type=int, required=True, help="number of log lines")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same file)")
    parser.add_argument("--out", required=True, help="output log (gzip when it ends in .gz)")
    parser.add_argument("--asn-db", help="also write the matching ASN .mmdb here")
    args = parser.parse_args(argv)
    labels = generate(args.out, lines=args.lines, seed=args.seed)
    print(f"wrote {args.lines:,} lines to {args.out} and labels to {labels}")
    if args.asn_db:
        write_asn_mmdb(args.asn_db)
        print(f"wrote ASN database {args.asn_db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
