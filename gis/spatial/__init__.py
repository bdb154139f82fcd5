"""The spatial core: coordinates, codes, areas, grids, buildings, locating points, topology, history, editing."""
