"""`memoire ingest`: a real photo folder into the gallery tables `synth` writes (no ground truth).

Modules: :mod:`.scan` (walking, the file register, incremental change detection), :mod:`.exif`
(EXIF/IPTC through Pillow, orientation), :mod:`.xmp` (embedded and sidecar XMP: face regions,
keywords, IPTC location, ratings), :mod:`.media` (decoding stills, sampling video frames),
:mod:`.relations` (the relations file and keyword hierarchies), :mod:`.organise` (events from
keywords or time gaps, places from IPTC fields or GPS clusters), :mod:`.enrol` (the reference face
of each person), :mod:`.tables` (the workspace rows) and :mod:`.stage` (the stage).
"""
