BEGIN TRANSACTION;
CREATE TABLE conflicts (
	id INTEGER NOT NULL, 
	sample_id VARCHAR(32) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	claimed TEXT NOT NULL, 
	other TEXT NOT NULL, 
	detail TEXT NOT NULL, 
	item TEXT, 
	ingest_id INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "conflicts" VALUES(1,'da8325c2d6c98a31435349365560e708','claim','synthetic','human','/tmp/tmpk5lcn489/s.jsonl:1 claims synthetic but the same bytes are recorded as human','/tmp/tmpk5lcn489/s.jsonl:1',2,'2026-12-01 10:27:14.044669');
CREATE TABLE datasets (
	id INTEGER NOT NULL, 
	names_hash VARCHAR(32) NOT NULL, 
	names TEXT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (names_hash)
);
CREATE TABLE exclusions (
	id INTEGER NOT NULL, 
	version_id INTEGER NOT NULL, 
	sample_id VARCHAR(32) NOT NULL, 
	reason TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE ingests (
	id INTEGER NOT NULL, 
	path TEXT, 
	format VARCHAR(16) NOT NULL, 
	origin VARCHAR(16), 
	started_at DATETIME NOT NULL, 
	n_added INTEGER NOT NULL, 
	n_existing INTEGER NOT NULL, 
	n_skipped INTEGER NOT NULL, 
	version TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO "ingests" VALUES(1,'/tmp/tmpk5lcn489/h.jsonl','jsonl','human','2026-12-01 10:27:14.262457',3,1,0,'human-v1');
INSERT INTO "ingests" VALUES(2,'/tmp/tmpk5lcn489/s.jsonl','jsonl','synthetic','2026-12-01 10:27:14.271911',1,1,0,'synth-v1');
INSERT INTO "ingests" VALUES(3,'/tmp/tmpk5lcn489/imgs','yolo','human','2026-12-01 10:27:14.290691',2,0,0,'det-v1');
CREATE TABLE labels (
	id INTEGER NOT NULL, 
	"key" VARCHAR(32) NOT NULL, 
	sample_id VARCHAR(32) NOT NULL, 
	class_id INTEGER NOT NULL, 
	x FLOAT NOT NULL, 
	y FLOAT NOT NULL, 
	w FLOAT NOT NULL, 
	h FLOAT NOT NULL, 
	origin VARCHAR(16) NOT NULL, 
	confidence FLOAT, 
	generator TEXT, 
	ingest_id INTEGER NOT NULL, 
	retired_by INTEGER, 
	PRIMARY KEY (id)
);
INSERT INTO "labels" VALUES(1,'7ed17cd433eb966946db883b342eaab4','7d15aa0ad17bfc0f8077c48425022e2a',0,0.5,0.5,0.2,0.2,'human',NULL,NULL,3,NULL);
INSERT INTO "labels" VALUES(2,'19365137222f519e70eb69b4bdcb1c01','d8d85f94eb63f0260349a78ee449a5c8',1,0.5,0.5,0.2,0.2,'human',NULL,NULL,3,NULL);
CREATE TABLE model_runs (
	id VARCHAR(32) NOT NULL, 
	model_id TEXT NOT NULL, 
	trained_on VARCHAR(255), 
	created_at DATETIME NOT NULL, 
	config TEXT NOT NULL, 
	extra TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "model_runs" VALUES('d9d6f5a0a5b94986abdb405fadd39f4d','yolo-tiny','det-v1','2026-12-01 10:27:14.299979','{"epochs":1}','{}');
CREATE TABLE run_metrics (
	id INTEGER NOT NULL, 
	run_id VARCHAR(32) NOT NULL, 
	name TEXT NOT NULL, 
	value FLOAT NOT NULL, 
	step INTEGER, 
	recorded_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "run_metrics" VALUES(1,'d9d6f5a0a5b94986abdb405fadd39f4d','recall/class_0',0.5,1,'2026-12-01 10:27:14.303869');
CREATE TABLE run_outputs (
	run_id VARCHAR(32) NOT NULL, 
	sample_id VARCHAR(32) NOT NULL, 
	PRIMARY KEY (run_id, sample_id)
);
CREATE TABLE sample_parents (
	sample_id VARCHAR(32) NOT NULL, 
	parent_id VARCHAR(32) NOT NULL, 
	PRIMARY KEY (sample_id, parent_id)
);
CREATE TABLE samples (
	id VARCHAR(32) NOT NULL, 
	uri TEXT, 
	content BLOB, 
	modality VARCHAR(16) NOT NULL, 
	origin VARCHAR(16) NOT NULL, 
	verified_by TEXT, 
	verified_at DATETIME, 
	generator TEXT, 
	generation INTEGER, 
	source TEXT, 
	created_at DATETIME NOT NULL, 
	extra TEXT NOT NULL, 
	dataset_id INTEGER, 
	synthetic_depth INTEGER NOT NULL, 
	ingest_id INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(dataset_id) REFERENCES datasets (id)
);
INSERT INTO "samples" VALUES('b2d420219a9d9dce99468900efbf4f01',NULL,X'61207261726520776F72643A2071756F6B6B61','text','human',NULL,NULL,NULL,0,'/tmp/tmpk5lcn489/h.jsonl','2026-12-01 10:27:14.044669','{"line":2}',NULL,0,1);
INSERT INTO "samples" VALUES('d273ea96fa7b0217b5403453fb60c6d4',NULL,X'646F6773206261726B','text','human',NULL,NULL,NULL,0,'/tmp/tmpk5lcn489/h.jsonl','2026-12-01 10:27:14.044669','{"line":4}',NULL,0,1);
INSERT INTO "samples" VALUES('da8325c2d6c98a31435349365560e708',NULL,X'7468652063617420736174','text','human',NULL,NULL,NULL,0,'/tmp/tmpk5lcn489/h.jsonl','2026-12-01 10:27:14.044669','{"line":1}',NULL,0,1);
INSERT INTO "samples" VALUES('0235c08473d6d81136274c8b64bfcc4e',NULL,X'7468652074686520746865','text','synthetic',NULL,NULL,'gpt-x',1,'/tmp/tmpk5lcn489/s.jsonl','2026-12-01 10:27:14.044669','{"line":2}',NULL,1,2);
INSERT INTO "samples" VALUES('7d15aa0ad17bfc0f8077c48425022e2a','/tmp/tmpk5lcn489/imgs/images/im0.png',NULL,'detection','human',NULL,NULL,NULL,0,'/tmp/tmpk5lcn489/imgs/images/im0.png','2026-12-01 10:27:14.044669','{"height":4,"name":"im0.png","split":"train","width":4}',NULL,0,3);
INSERT INTO "samples" VALUES('d8d85f94eb63f0260349a78ee449a5c8','/tmp/tmpk5lcn489/imgs/images/im1.png',NULL,'detection','human',NULL,NULL,NULL,0,'/tmp/tmpk5lcn489/imgs/images/im1.png','2026-12-01 10:27:14.044669','{"height":4,"name":"im1.png","split":"train","width":4}',NULL,0,3);
CREATE TABLE skipped (
	id INTEGER NOT NULL, 
	ingest_id INTEGER NOT NULL, 
	item TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE tg_meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "tg_meta" VALUES('schema_version','1');
CREATE TABLE version_members (
	version_id INTEGER NOT NULL, 
	sample_id VARCHAR(32) NOT NULL, 
	origin VARCHAR(16) NOT NULL, 
	PRIMARY KEY (version_id, sample_id)
)
 WITHOUT ROWID

;
INSERT INTO "version_members" VALUES(1,'b2d420219a9d9dce99468900efbf4f01','human');
INSERT INTO "version_members" VALUES(1,'d273ea96fa7b0217b5403453fb60c6d4','human');
INSERT INTO "version_members" VALUES(1,'da8325c2d6c98a31435349365560e708','human');
INSERT INTO "version_members" VALUES(2,'0235c08473d6d81136274c8b64bfcc4e','synthetic');
INSERT INTO "version_members" VALUES(2,'da8325c2d6c98a31435349365560e708','human');
INSERT INTO "version_members" VALUES(3,'0235c08473d6d81136274c8b64bfcc4e','synthetic');
INSERT INTO "version_members" VALUES(3,'b2d420219a9d9dce99468900efbf4f01','human');
INSERT INTO "version_members" VALUES(3,'d273ea96fa7b0217b5403453fb60c6d4','human');
INSERT INTO "version_members" VALUES(3,'da8325c2d6c98a31435349365560e708','human');
INSERT INTO "version_members" VALUES(4,'7d15aa0ad17bfc0f8077c48425022e2a','human');
INSERT INTO "version_members" VALUES(4,'d8d85f94eb63f0260349a78ee449a5c8','human');
CREATE TABLE versions (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	description TEXT NOT NULL, 
	extra TEXT NOT NULL, 
	n_members INTEGER NOT NULL, 
	class_names TEXT, 
	label_watermark INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO "versions" VALUES(1,'human-v1','2026-12-01 10:27:14.265050','','{"ingest_id":1,"path":"/tmp/tmpk5lcn489/h.jsonl"}',3,NULL,1);
INSERT INTO "versions" VALUES(2,'synth-v1','2026-12-01 10:27:14.273861','','{"ingest_id":2,"path":"/tmp/tmpk5lcn489/s.jsonl"}',2,NULL,2);
INSERT INTO "versions" VALUES(3,'mix-v1','2026-12-01 10:27:14.276027','','{"selectors":["version:human-v1","version:synth-v1"]}',4,NULL,2);
INSERT INTO "versions" VALUES(4,'det-v1','2026-12-01 10:27:14.297171','','{"ingest_id":3,"path":"/tmp/tmpk5lcn489/imgs"}',2,NULL,3);
CREATE INDEX ix_sample_parents_parent ON sample_parents (parent_id);
CREATE INDEX ix_labels_sample ON labels (sample_id);
CREATE UNIQUE INDEX ux_labels_key_ingest ON labels ("key", ingest_id);
CREATE INDEX ix_conflicts_sample ON conflicts (sample_id);
CREATE INDEX ix_skipped_ingest ON skipped (ingest_id);
CREATE INDEX ix_run_outputs_sample ON run_outputs (sample_id);
CREATE INDEX ix_run_metrics_run ON run_metrics (run_id);
CREATE INDEX ix_exclusions_version ON exclusions (version_id);
CREATE INDEX ix_samples_source ON samples (source);
CREATE INDEX ix_samples_generation ON samples (generation);
CREATE INDEX ix_samples_origin ON samples (origin);
COMMIT;
