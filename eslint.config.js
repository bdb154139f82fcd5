// eslint's flat config for our own page scripts (webmap/static/js), run by tests/test_house_web.py.
// ES modules in the browser, with the Leaflet global the vendor scripts define; the recommended rules.
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  {
    files: ["webmap/static/js/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, L: "readonly" },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
];
