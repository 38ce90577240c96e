\timing on
SET maintenance_work_mem = '1GB';
DROP TABLE IF EXISTS a_real, b_vec, q;
CREATE TABLE a_real (chunk_id int8 PRIMARY KEY, kb_id int8, embedder text, dimension int, vector real[]);
INSERT INTO a_real SELECT g, 1, 'e', 384, (SELECT array_agg(random()::real - 0.5::real) FROM generate_series(1, 384) WHERE g > 0) FROM generate_series(1, 50000) g;
CREATE TABLE b_vec (chunk_id int8 PRIMARY KEY, kb_id int8, embedder text, embedding vector(384));
INSERT INTO b_vec SELECT chunk_id, kb_id, embedder, vector::vector(384) FROM a_real;
CREATE TABLE q AS SELECT i, (SELECT array_agg(random()::real - 0.5::real) FROM generate_series(1, 384) WHERE i > 0) AS v FROM generate_series(1, 200) i;
VACUUM ANALYZE a_real; VACUUM ANALYZE b_vec;
CREATE INDEX a_hnsw ON a_real USING hnsw ((vector::vector(384)) vector_cosine_ops) WHERE kb_id = 1 AND dimension = 384;
CREATE INDEX b_hnsw ON b_vec USING hnsw (embedding vector_cosine_ops) WHERE kb_id = 1;
SELECT pg_size_pretty(pg_table_size('a_real')) a_table, pg_size_pretty(pg_relation_size('a_hnsw')) a_index, pg_size_pretty(pg_table_size('b_vec')) b_table, pg_size_pretty(pg_relation_size('b_hnsw')) b_index;
SET hnsw.ef_search = 100;
-- warm both
DO $$ DECLARE r record; x int8; BEGIN FOR r IN SELECT v FROM q LOOP
  SELECT sum(chunk_id) INTO x FROM (SELECT chunk_id FROM a_real WHERE kb_id = 1 AND dimension = 384 AND embedder = 'e' ORDER BY vector::vector(384) <=> r.v::vector(384) LIMIT 10) s;
  SELECT sum(chunk_id) INTO x FROM (SELECT chunk_id FROM b_vec WHERE kb_id = 1 AND embedder = 'e' ORDER BY embedding <=> r.v::vector(384) LIMIT 10) s; END LOOP; END $$;
DO $$ DECLARE r record; x float8; t0 timestamptz; t1 timestamptz; t2 timestamptz; BEGIN
  FOR pass IN 1..2 LOOP
  t0 := clock_timestamp();
  FOR r IN SELECT v FROM q LOOP SELECT sum(d) INTO x FROM (SELECT (vector::vector(384) <=> r.v::vector(384))::float8 d FROM a_real WHERE kb_id = 1 AND dimension = 384 AND embedder = 'e' ORDER BY vector::vector(384) <=> r.v::vector(384) LIMIT 10) s; END LOOP;
  t1 := clock_timestamp();
  FOR r IN SELECT v FROM q LOOP SELECT sum(d) INTO x FROM (SELECT (embedding <=> r.v::vector(384))::float8 d FROM b_vec WHERE kb_id = 1 AND embedder = 'e' ORDER BY embedding <=> r.v::vector(384) LIMIT 10) s; END LOOP;
  t2 := clock_timestamp();
  RAISE NOTICE 'pass %: real[] expression index % queries/s; vector(384) column % queries/s', pass, round(200 / extract(epoch from t1 - t0)), round(200 / extract(epoch from t2 - t1));
  END LOOP; END $$;
SELECT count(*) AS same_top10 FROM q, LATERAL (SELECT array_agg(chunk_id) a FROM (SELECT chunk_id FROM a_real WHERE kb_id = 1 AND dimension = 384 AND embedder = 'e' ORDER BY vector::vector(384) <=> q.v::vector(384) LIMIT 10) s) x, LATERAL (SELECT array_agg(chunk_id) b FROM (SELECT chunk_id FROM b_vec WHERE kb_id = 1 AND embedder = 'e' ORDER BY embedding <=> q.v::vector(384) LIMIT 10) s) y WHERE x.a = y.b;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT chunk_id FROM a_real WHERE kb_id = 1 AND dimension = 384 AND embedder = 'e' ORDER BY vector::vector(384) <=> (SELECT v FROM q WHERE i = 7)::vector(384) LIMIT 10;
