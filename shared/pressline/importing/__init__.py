"""``pressline import``: moving an existing blog in (WordPress WXR, Ghost JSON, Hugo and Jekyll
folders). Each source reader turns its export into ``model.ImportedItem`` values; the rest
(HTML to Markdown, images, links, writing and uploading) is the same for every source.

Runs on the author's machine, never in a Lambda: nothing here ships in a function's layer.
"""
