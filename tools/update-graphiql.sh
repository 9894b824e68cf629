#!/usr/bin/env bash
# Vendors GraphiQL and what its page needs into api/assets/graphiql/, so that the binary serves
# every asset itself and GraphiQL works on a network without internet.
#
# Usage: tools/update-graphiql.sh   (edit the versions below first to move to newer releases)
# Needs node and npm. It downloads the packages from the npm registry, minifies GraphiQL's
# browser bundle with esbuild (the published "min" bundle is not minified), gzips every asset
# (the binary serves them compressed, and decompresses only for the rare client that refuses
# gzip), and copies each package's licence beside them. Commit the result; then run the tests
# (`graphiql_is_served_offline…` checks that the page names only assets the binary holds).
set -euo pipefail

GRAPHIQL_VERSION=3.8.3 # the last major with a browser (UMD) bundle; it bundles graphql-ws too
REACT_VERSION=18.3.1   # React 19 ships no UMD bundle
ESBUILD_VERSION=0.24.2

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/api/assets/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
echo '{"private": true}' >package.json
# The full install (not just the three packages) brings the licences of everything GraphiQL's
# bundle includes.
npm install --silent --ignore-scripts --no-audit --no-fund \
  "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" >/dev/null
npm install --silent --no-audit --no-fund --no-save "esbuild@$ESBUILD_VERSION" >/dev/null
nm="$work/node_modules"

rm -rf "$out"
mkdir -p "$out/licenses"
cd "$work"
"$nm/.bin/esbuild" "$nm/graphiql/graphiql.min.js" --minify --log-level=error \
  --legal-comments=inline >graphiql.min.js
cp "$nm/graphiql/graphiql.min.css" graphiql.min.css
cp "$nm/react/umd/react.production.min.js" "$nm/react-dom/umd/react-dom.production.min.js" .
for f in graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js; do
  # -n: no name or time in the header, so an update changes the files only when they change.
  gzip -9 -n -c "$f" >"$out/$f.gz"
done
# Every package of the installed tree but the build tool: name, version, licence, then the
# licence text it ships.
node - "$nm" >"$out/licenses/THIRD-PARTY.txt" <<'JS'
const fs = require("fs"), path = require("path");
const root = process.argv[2];
const dirs = [];
for (const d of fs.readdirSync(root)) {
  if (d.startsWith(".")) continue;
  if (d.startsWith("@")) fs.readdirSync(path.join(root, d)).forEach((s) => dirs.push(path.join(d, s)));
  else dirs.push(d);
}
const list = [], texts = [];
for (const d of dirs.sort()) {
  const file = path.join(root, d, "package.json");
  if (!fs.existsSync(file)) continue;
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  if (pkg.name === "esbuild" || pkg.name.startsWith("@esbuild/")) continue;
  const licence = typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license || pkg.licenses || "UNKNOWN");
  list.push(`${pkg.name} ${pkg.version} ${licence}`);
  const text = fs.readdirSync(path.join(root, d)).find((f) => /^(licen[cs]e|copying)/i.test(f));
  if (text) texts.push(`==== ${pkg.name} ${pkg.version} ====\n` + fs.readFileSync(path.join(root, d, text), "utf8").trim());
}
console.log("The packages installed with GraphiQL (its bundle holds code from them), and their licences:\n");
console.log(list.join("\n") + "\n");
console.log(texts.join("\n\n"));
JS
cat >"$out/VERSIONS" <<VERSIONS
graphiql $GRAPHIQL_VERSION, react $REACT_VERSION, react-dom $REACT_VERSION
minified with esbuild $ESBUILD_VERSION; written by tools/update-graphiql.sh
licences: licenses/THIRD-PARTY.txt
VERSIONS
echo "vendored into $out:"
ls -l "$out"
