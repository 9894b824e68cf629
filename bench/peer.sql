-- What PostGraphile serves for S2 and S3: the same aggregates as Sangam's progress, as views
-- it exposes (PostGraphile has no aggregates of its own).
CREATE OR REPLACE VIEW bench_district_progress AS
  SELECT v.state_id, v.district_id, count(*) AS villages, sum(v.households) AS households,
         sum(v.tap_connections) AS tap_connections,
         sum(CASE WHEN v.hgj_status IN ('REPORTED', 'CERTIFIED') THEN 1 ELSE 0 END) AS reported,
         sum(CASE WHEN v.hgj_status = 'CERTIFIED' THEN 1 ELSE 0 END) AS certified
  FROM village v GROUP BY v.state_id, v.district_id;
CREATE OR REPLACE VIEW bench_state_progress AS
  SELECT v.state_id, count(*) AS villages, sum(v.households) AS households,
         sum(v.tap_connections) AS tap_connections,
         sum(CASE WHEN v.hgj_status IN ('REPORTED', 'CERTIFIED') THEN 1 ELSE 0 END) AS reported,
         sum(CASE WHEN v.hgj_status = 'CERTIFIED' THEN 1 ELSE 0 END) AS certified
  FROM village v GROUP BY v.state_id;
