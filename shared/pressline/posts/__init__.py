"""Posts: the authoring format, the validation rules and the Markdown body.

One set of rules serves the Validate and Render stages and ``pressline check``.
Nothing here imports boto3; heavy parsers (YAML, cmarkgfm, nh3) load on first use.
"""
