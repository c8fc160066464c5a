"""Rebuild this folder's excerpt of the Amazon Beauty benchmark (../shared/data): the first 40
products of pgpr/product.txt, the label pairs on them, the first 30 users with such pairs, the
first 15 links of each relation line, and every line of the other files those reference,
re-indexed so that the files agree.

    .venv/bin/python tests/data/beauty/make_excerpt.py ../shared/data
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

PRODUCTS, USERS, LINKS = 40, 30, 15
HERE = Path(__file__).parent


def lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        return stream.read().split("\n")[:-1]


def write(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(f"{row}\n" for row in rows).encode(), mtime=0))


def main(data: Path) -> None:
    kg, seq = data / "amazon-beauty-pgpr-cafe", data / "amazon-beauty-2014-seq-text"
    pgpr = {name: lines(kg / "pgpr" / f"{name}.txt.gz") for name in (
        "product", "users", "brand", "category", "related_product", "brand_p_b", "category_p_c",
        "also_bought_p_p", "also_viewed_p_p", "bought_together_p_p")}  # fmt: skip
    labels = {split: [row.split("\t") for row in lines(kg / "cafe" / f"{split}_labels.txt.gz")]
              for split in ("train", "test")}  # fmt: skip
    users: list[str] = []  # old user indices, in order
    for split_rows in labels.values():
        for user, *items in split_rows:
            if any(int(i) < PRODUCTS for i in items) and user not in users:
                users.append(user)
    users = sorted(users, key=int)[:USERS]
    new_user = {old: new for new, old in enumerate(users)}
    for split, split_rows in labels.items():
        out = []
        for user, *items in split_rows:
            kept = [i for i in items if int(i) < PRODUCTS]
            if user in new_user and kept:
                out.append("\t".join([str(new_user[user]), *kept]))
        write(
            HERE / "kg" / "cafe" / f"{split}_labels.txt.gz",
            sorted(out, key=lambda r: int(r.split("\t")[0])),
        )
    write(HERE / "kg" / "pgpr" / "product.txt.gz", pgpr["product"][:PRODUCTS])
    write(HERE / "kg" / "pgpr" / "users.txt.gz", [pgpr["users"][int(u)] for u in users])
    write(HERE / "kg" / "pgpr" / "category.txt.gz", pgpr["category"])
    write(HERE / "kg" / "pgpr" / "category_p_c.txt.gz", pgpr["category_p_c"][:PRODUCTS])
    for entity, relation in (("brand", ["brand_p_b"]),
                             ("related_product", ["also_bought_p_p", "also_viewed_p_p",
                                                  "bought_together_p_p"])):  # fmt: skip
        used: dict[str, int] = {}
        for name in relation:
            rows = [" ".join(str(used.setdefault(i, len(used))) for i in row.split()[:LINKS])
                    for row in pgpr[name][:PRODUCTS]]  # fmt: skip
            write(HERE / "kg" / "pgpr" / f"{name}.txt.gz", rows)
        write(HERE / "kg" / "pgpr" / f"{entity}.txt.gz", [pgpr[entity][int(i)] for i in used])
    asins = set(pgpr["product"][:PRODUCTS])
    reviewers = {pgpr["users"][int(u)] for u in users}
    inter = lines(seq / "interactions.tsv.gz")
    write(
        HERE / "seq" / "interactions.tsv.gz",
        [inter[0]]
        + [
            row
            for row in inter[1:]
            if row.split("\t")[0] in reviewers and row.split("\t")[1] in asins
        ],
    )
    items = lines(seq / "items.tsv.gz")
    write(
        HERE / "seq" / "items.tsv.gz",
        [items[0]] + [row for row in items[1:] if row.split("\t")[0] in asins],
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
