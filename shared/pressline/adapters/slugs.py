"""Reading slug owners from the posts table (the catalog Index keeps).

Index keeps one item per slug, ``pk="SLUG#<slug>", sk="SLUG"``, whose ``source_key``
is the post that holds it. Validate and Render only read it, with one GetItem.
"""

from __future__ import annotations

from pressline.adapters.aws import DynamoTable
from pressline.adapters.errors import call_dynamodb


class DynamoSlugRegistry(DynamoTable):
    def owner_of(self, slug: str) -> str | None:
        response = call_dynamodb(
            self.db.get_item,
            TableName=self.table,
            Key={"pk": {"S": f"SLUG#{slug}"}, "sk": {"S": "SLUG"}},
            ProjectionExpression="source_key",
            ConsistentRead=True,
        )
        item = response.get("Item") or {}
        owner = item.get("source_key", {}).get("S")
        return str(owner) if owner else None
