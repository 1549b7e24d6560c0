"""`memoire export`: acting on the picks of `memoire rank` for an ingested photo folder.

Modules: :mod:`.picks` (the ranking's picks joined to their files; the star rule), :mod:`.xmp_write`
(merging a rating, colour label and pick flag into an XMP packet without losing anything else;
atomic writes), :mod:`.sidecars` (which sidecar, backups, per-file errors), :mod:`.album` (the
album folder: names, links or copies, all-at-once replacement), :mod:`.gallery` (the self-contained
``index.html``) and :mod:`.run` (the command end to end).
"""
