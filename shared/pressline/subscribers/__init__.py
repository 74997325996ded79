"""Subscribers: double opt-in, signed tokens, per-tag interests and exactly-once email.

The modules here are the pure core (addresses, tokens, model, messages, fanout,
delivery, service) and its ports (ports.py) with two sets of adapters: DynamoDB,
SES, SQS and SNS for AWS (dynamodb.py, aws.py) and in-memory fakes (memory.py).
No core module imports boto3.
"""
