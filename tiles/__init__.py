"""Vector (MVT) and raster tiles: declared layers, one PostGIS statement per tile, versioned caching."""
