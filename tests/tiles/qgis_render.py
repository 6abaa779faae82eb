"""Render one raster layer with QGIS (Debian's python3-qgis, offscreen) to a PNG: run by the system Python.

    /usr/bin/python3 qgis_render.py PROVIDER URI OUT.png [west,south,east,north in the layer's CRS]

Prints one JSON line: whether the layer is valid, its CRS and extent. Without an extent the layer's own
extent is drawn, as QGIS does when a user adds the layer and zooms to it.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsMapRendererParallelJob, QgsMapSettings, QgsRasterLayer, QgsRectangle  # noqa: E402
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

# QGIS objects are kept in module variables until exitQgis: one freed too early crashes the interpreter.
provider, uri, out = sys.argv[1:4]
app = QgsApplication([], False)
app.initQgis()
layer = QgsRasterLayer(uri, "layer", provider)
extent = layer.extent()
print(json.dumps({"valid": layer.isValid(), "crs": layer.crs().authid(),
                  "extent": [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()]}), flush=True)
if layer.isValid():
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(0, 0, 255))
    settings.setExtent(QgsRectangle(*map(float, sys.argv[4].split(","))) if len(sys.argv) > 4 else extent)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(out)
app.exitQgis()
