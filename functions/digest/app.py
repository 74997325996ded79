"""Lambda entry point: everything happens in pressline.stages.digest."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.stages import digest


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return digest.handle(event, context)
