"""The imagery tile service's ASGI app (FastAPI, as titiler is).

Deployed as its own replicas behind the proxy (docker-compose.yml ``tiles``). It serves
only datasets registered in the catalog, never a caller-supplied URL or path.
"""

import rasterio
from fastapi import FastAPI

app = FastAPI(title="Geoplatform imagery tiles", docs_url="/tiles/docs", openapi_url="/tiles/openapi.json")


@app.get("/tiles/healthz")
def healthz() -> dict:
    """Liveness for the proxy: the GDAL the tile readers use."""
    return {"status": "ok", "gdal": rasterio.__gdal_version__, "rasterio": rasterio.__version__}
