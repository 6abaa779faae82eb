"""Publishing a layer: read a file with pyogrio/GDAL, check and transform it, load it as a new version.

The flow is a straight line: :mod:`.sources` (which file, which driver, which encoding) ->
:mod:`.reader` (chunks of repaired EWKB + typed columns in CGCS2000) -> :mod:`..storage`
(binary COPY into the versioned table, diff by key) -> :mod:`..publish` (one transaction,
catalog updated).
"""
