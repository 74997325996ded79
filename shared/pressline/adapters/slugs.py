"""Reading slug owners from the posts table (the catalog Index keeps).

Index keeps one item per slug, ``pk="SLUG#<slug>", sk="SLUG"``, whose ``source_key``
is the post that holds it. Validate only reads them: one consistent BatchGetItem for
the slugs of a whole batch of posts (one call for a single post, as a GetItem was).
"""

from __future__ import annotations

from collections.abc import Collection

from pressline.adapters.aws import DynamoTable

PREFIX = "SLUG#"


class DynamoSlugRegistry(DynamoTable):
    def owners_of(self, slugs: Collection[str]) -> dict[str, str]:
        if not slugs:
            return {}
        keys = [{"pk": {"S": f"{PREFIX}{slug}"}, "sk": {"S": "SLUG"}} for slug in sorted(set(slugs))]
        owners: dict[str, str] = {}
        for item in self.batch_get(keys):
            owner = item.get("source_key", {}).get("S")
            if owner:
                owners[item["pk"]["S"].removeprefix(PREFIX)] = str(owner)
        return owners
