# Geoplatform image: the web app (Django/uvicorn) and the imagery tile service (same image, other command).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GEOPLATFORM_DATA_DIR=/var/lib/geoplatform
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgdal32 libgeos-c1v5 libproj25 gdal-bin postgresql-client \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
COPY --from=assets /src/node_modules/maplibre-gl/dist/maplibre-gl.js /src/node_modules/maplibre-gl/dist/maplibre-gl.css \
     geoplatform/web/static/vendor/maplibre-gl/
RUN pip install --no-cache-dir --no-deps . \
 && DATABASE_URL=postgresql://build@localhost/build GEOPLATFORM_SECRET_KEY=build \
    python -m geoplatform.cli manage collectstatic --noinput \
 && useradd --system --home /var/lib/geoplatform geoplatform \
 && chown -R geoplatform /var/lib/geoplatform
USER geoplatform
EXPOSE 8000
CMD ["geoplatform", "serve", "--host", "0.0.0.0", "--port", "8000"]
