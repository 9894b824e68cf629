#!/usr/bin/env bash
# Import and export speed at national scale (issue 13): the synthetic national dataset written
# out in LGD's formats (states, districts, blocks, gram panchayats, villages: about six lakh
# village rows), imported into an empty PostgreSQL database and an empty SQLite file (the
# village file timed on its own, after its parents), re-imported (all unchanged), then the
# national villages exported over HTTP with the server's peak RSS.
# Usage: bench/imports.sh   (needs the national dataset of bench/run.sh, or makes it)
set -euo pipefail
cd "$(dirname "$0")"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
SRC="${PGURL_ADMIN%/*}/sangam_bench_national"
DST="${PGURL_ADMIN%/*}/sangam_bench_import"
WORK="${WORK:-/tmp/sangam-lgd}"
mkdir -p "$WORK" results
( cd .. && cargo build -j "${JOBS:-1}" --release -q -p api )
SANGAM=../target/release/sangam
if ! psql "$SRC" -qAtc 'select 1 from village limit 1' >/dev/null 2>&1; then
  psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS sangam_bench_national" -c "CREATE DATABASE sangam_bench_national"
  "$SANGAM" seed synthetic --scale national --database-url "$SRC" >/dev/null
fi

# The national dataset in LGD's download formats (quirks included: BOM-less but CRLF, the
# official misspelling, two "State Name" columns).
copy() { psql "$SRC" -qc "\\copy ($1) TO '$WORK/$2' WITH (FORMAT csv, HEADER)"; }
copy "SELECT row_number() over (order by lgd_code) AS \"S.No.\", lgd_code AS \"State Code\", 1 AS \"State Version\", upper(name) AS \"State Name\", name_hi AS \"State Name \", lgd_code AS \"Census 2011 Code\", CASE WHEN category LIKE 'UT%' THEN 'U' ELSE 'S' END AS \"State or UT\" FROM state" states.csv
copy "SELECT s.lgd_code AS \"State Code\", upper(s.name) AS \"State Name\", d.lgd_code AS \"District Code\", upper(d.name) AS \"District Name\" FROM district d JOIN state s ON s.id = d.state_id" districts.csv
copy "SELECT row_number() over (order by b.lgd_code) AS \"S.No.\", d.lgd_code AS \"District Code\", b.lgd_code AS \"Block Code\", 1 AS \"Block Version\", upper(b.name) AS \"Block Name \", b.name_hi AS \"Block Name\" FROM block b JOIN district d ON d.id = b.district_id" blocks.csv
copy "SELECT g.lgd_code AS \"Local Body Code\", 1 AS \"Local Body Version\", upper(g.name) AS \"Local Body Name (In English)\", g.name_hi AS \"Local Body Name (In Local)\", b.lgd_code AS \"Block Code\" FROM gram_panchayat g JOIN block b ON b.id = g.block_id" gram-panchayats.csv
copy "SELECT s.lgd_code AS \"State Code\", d.lgd_code AS \"District Code\", b.lgd_code AS \"Block Code\", g.lgd_code AS \"Gram Panchayat Code\", v.lgd_code AS \"Village Code\", upper(v.name) AS \"Village Name (In Englsih)\", v.name_hi AS \"Village Name (In Local language)\" FROM village v JOIN gram_panchayat g ON g.id = v.gram_panchayat_id JOIN block b ON b.id = v.block_id JOIN district d ON d.id = v.district_id JOIN state s ON s.id = v.state_id" villages.csv
sed -i 's/$/\r/' "$WORK/villages.csv"
echo "villages file: $(($(wc -l < "$WORK/villages.csv") - 1)) rows, $(du -h "$WORK/villages.csv" | cut -f1)"

run() { # label, url, files…
  local label=$1 url=$2; shift 2
  echo "($label) load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "$label: %e s, max RSS %M KB" "$SANGAM" import lgd "$@" --database-url "$url" 2>&1 >/dev/null | grep -v '^\(checking\|writing\)' || true
}
for target in postgres sqlite; do
  if [ $target = postgres ]; then
    psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS sangam_bench_import" -c "CREATE DATABASE sangam_bench_import"
    URL="$DST"
  else
    rm -f "$WORK/import.db"*; URL="sqlite://$WORK/import.db?mode=rwc"
  fi
  run "$target: parents" "$URL" "$WORK/states.csv" "$WORK/districts.csv" "$WORK/blocks.csv" "$WORK/gram-panchayats.csv"
  run "$target: villages (validate + import)" "$URL" "$WORK/villages.csv"
  run "$target: villages again (all unchanged)" "$URL" "$WORK/villages.csv"
done

# Export: every village in the nation, as a national dashboard, over HTTP.
PORT=18131
read -r DID DSEC < <("$SANGAM" client add --database-url "$SRC" --name "bench export" --role dashboard --scopes "villages:read" |
  awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}')
RUST_LOG=warn DATABASE_URL="$SRC" SANGAM_ISSUER=http://bench "$SANGAM" serve --listen 127.0.0.1:$PORT &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -s -u "$DID:$DSEC" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
echo "server RSS before exporting: $(awk '/VmRSS/ {print $2, $3}' /proc/$SPID/status)"
for fmt in csv xlsx; do
  echo "(export $fmt) load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  SECS=$(curl -s -H "Authorization: Bearer $TOKEN" -o "$WORK/export.$fmt" -w "%{time_total}" "http://127.0.0.1:$PORT/export/villages.$fmt")
  if [ $fmt = csv ]; then ROWS=$(($(wc -l < "$WORK/export.csv") - 1)); fi
  echo "export villages.$fmt: $SECS s, $(stat -c %s "$WORK/export.$fmt") bytes, $ROWS rows, $(python3 -c "print(round($ROWS / $SECS))") rows/s"
  echo "server peak RSS so far: $(awk '/VmHWM/ {print $2, $3}' /proc/$SPID/status)"
done
