"""``pressline preview``: a folder of posts served as the site will show them, on this machine,
with no AWS and no moto, rebuilt and reloaded in the browser on every save."""
