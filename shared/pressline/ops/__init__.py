"""Operator tools: redrive dead-letter queues."""
