"""Pressline: a serverless, event-driven publishing pipeline.

The package is the Lambda layer every function shares. Layout:

- ``models``      pydantic models: posts, inter-stage messages, subscribers
- ``posts``       authoring format: front matter, validation, Markdown rendering (pure)
- ``site``        Jinja2 templates and page rendering (pure)
- ``indexing``    catalog and listing decisions (pure)
- ``subscribers`` tokens, email messages (pure)
- ``adapters``    the only modules that talk to AWS: store, queue, catalog, mailer
- ``stages``      one module per pipeline stage: parse the record, call the core, do the I/O
- ``local``       the Docker-free local stack (moto), never imported by a function
"""
