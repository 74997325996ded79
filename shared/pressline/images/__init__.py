"""Images uploaded beside posts, made into responsive variants without metadata (issue 14).

Pure functions over bytes, no AWS: ``process(data, name)`` gives the variants to publish or
the reason the upload is refused, and ``image_set`` the manifest entry pages show it with
(``pressline.site.responsive``, which is in the shared layer). Pillow is imported here, so this
package belongs to the image stage's own layer only (the ``images`` extra), never to the shared
layer.
"""

from pressline.images.manifest import image_set
from pressline.images.variants import ImageResult, Limits, Variant, process

__all__ = ["ImageResult", "Limits", "Variant", "image_set", "process"]
