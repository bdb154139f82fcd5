/* What a map page has drawn, on window.gridgov for people debugging in the console, for the
 * browser tests and for bench/tiles.py. This module owns the object; the page entries add
 * themselves (gridgov-map.js) and each page adds its map (and stream, edits, moves). */

export const gridgov = (window.gridgov = window.gridgov || {});

export const state = (gridgov.state = {
  drawn: {}, // layer name -> features on screen
  tilesLoaded: {}, // layer name -> vector tiles loaded
  events: new Map(), // event id -> its marker (events.js)
  live: false, // the live stream is open (live.js)
  errors: [], // failures noted instead of thrown
  marks: {}, // layer name -> performance.now() when it first had something on screen
});

// performance.now() when each layer first had something on screen (bench/tiles.py reads it).
export const mark = (name) => state.marks[name] ?? (state.marks[name] = performance.now());
