"""Index: the catalog of posts and everything generated from it (listings, archives,
feeds, sitemaps, search shards), kept current one change at a time at constant cost.

``catalog`` holds the data model and the Catalog port, ``plan`` the pure decisions,
``feeds``/``sitemaps``/``search``/``pages`` the pure renderers; ``dynamo`` is the
DynamoDB adapter and ``rebuild`` the ``pressline rebuild`` command. No module here
imports boto3 at import time.
"""
