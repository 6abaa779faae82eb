"""Routes of the layers service: OGC API under ogc/, the platform's own under api/layers/."""

from django.urls import path

from geoplatform.layers.views import downloads, ogc, publish, tiles

urlpatterns = [
    path("ogc/", ogc.LandingView.as_view(), name="ogc-landing"),
    path("ogc", ogc.LandingView.as_view()),
    path("ogc/api", ogc.OpenApiView.as_view(), name="ogc-api"),
    path("ogc/conformance", ogc.ConformanceView.as_view(), name="ogc-conformance"),
    path("ogc/collections", ogc.CollectionsView.as_view(), name="ogc-collections"),
    path("ogc/collections/<slug:slug>", ogc.CollectionView.as_view(), name="ogc-collection"),
    path("ogc/collections/<slug:slug>/queryables", ogc.QueryablesView.as_view(), name="ogc-queryables"),
    path("ogc/collections/<slug:slug>/items", ogc.ItemsView.as_view(), name="ogc-items"),
    path("ogc/collections/<slug:slug>/items/<int:fid>", ogc.ItemView.as_view(), name="ogc-item"),
    path("ogc/collections/<slug:slug>/tiles", tiles.OgcTilesetsView.as_view(), name="ogc-tilesets"),
    path("ogc/collections/<slug:slug>/tiles/WebMercatorQuad", tiles.OgcTilesetView.as_view(), name="ogc-tileset"),
    path("ogc/collections/<slug:slug>/tiles/WebMercatorQuad/<int:z>/<int:row>/<int:col>",
         tiles.OgcTileView.as_view(), name="ogc-tile"),
    path("api/layers/<slug:slug>/tiles/<int:z>/<int:x>/<int:y>.mvt", tiles.TileView.as_view(), name="layer-tile"),
    path("api/layers/<slug:slug>/tilejson.json", tiles.TileJsonView.as_view(), name="layer-tilejson"),
    path("api/layers/<slug:slug>/download.<str:fmt>", downloads.DownloadView.as_view(), name="layer-download"),
    path("api/layers/<slug:slug>/versions", publish.VersionsView.as_view(), name="layer-versions"),
    path("api/layers/<slug:slug>/versions/<int:number>/restore", publish.RestoreView.as_view(),
         name="layer-restore"),
]
