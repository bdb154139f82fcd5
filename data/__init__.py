"""Data: the category table, the demo district generator, import and export of layers."""

# The layers `gridgov import` / `gridgov export` know (data.io.LAYERS describes their fields).
LAYER_NAMES = ("areas", "grids", "buildings", "events", "cadres", "contracts")
