"""The document pre-check, pure: photo to clean page, quality flags, fields read by OCR.

Nothing here touches the database or the event loop: `pipeline.run` takes file paths
and returns plain data, so the service layer can run it in a process pool.
`kinds.py` (the vocabulary) imports nothing heavy, so the catalog can use it.
"""
