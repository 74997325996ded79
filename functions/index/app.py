"""Lambda entry point: everything happens in pressline.stages.index_handler."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.stages import index_handler


def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return index_handler.handle(event, context)
