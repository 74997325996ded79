"""Lambda entry point: everything happens in pressline.stages.websub."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.stages import websub


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return websub.handle(event, context)
