"""Reader comments (issue 17): the pure core, no AWS.

Design: functional core, thin shell, as for subscribers. Everything here is a pure
function over frozen models; the stages that come later parse a request, call these, and do
the I/O (DynamoDB, SES, the page rewrite) through small adapters.

- ``model``: what a submission and a stored comment are; a comment never holds an email
  address, only ``author_id`` (the keyed hash ``subscribers.addresses.subscriber_id`` makes).
- ``validate``: a form's fields to a clean ``Submission``, a ``Refusal(field, reason)`` or
  ``Spam(reason)``; nothing raises for bad input.
- ``markdown``: the comment text to the small safe HTML subset, and its plain text.
- ``threads``: one level of threading, and the order of a post's comments on its page.
- ``moderation``: the outcome of a valid submission under the site's policy, and who is
  told of an approved reply.
- ``limits``: the rate-limit counters one submission counts against.

Signed links (later: new ``tokens.Purpose`` values; tokens.py is not changed yet). Every
claim set carries ``p`` (purpose) and ``s`` (the commenter's or the author's subscriber id),
never an address, and:

- ``comment-confirm``: ``c`` comment id, ``r`` the pending request id stored with the
  comment (consumed on use: single-use), ``e`` expiry (48 h, as sign-up confirmations).
- ``comment-approve`` / ``comment-reject`` / ``comment-ban``: ``c`` comment id, ``v`` the
  comment's version when the moderation email was made (a second click, or a click after
  another decision, changes nothing), ``e`` expiry (14 days); signed for the author only.
- ``comment-delete``: ``c`` comment id, ``s`` its author's id (only the author's own link
  deletes it); no expiry, idempotent (deleting a deleted comment is a no-op).
- ``comment-thread-unsubscribe``: ``t`` the thread root id, ``s`` the participant; no expiry,
  idempotent, usable as the RFC 8058 one-click target.
"""
