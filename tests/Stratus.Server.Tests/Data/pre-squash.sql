PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE IF NOT EXISTS "__EFMigrationsLock" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK___EFMigrationsLock" PRIMARY KEY,
    "Timestamp" TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);
INSERT INTO __EFMigrationsHistory VALUES('20261122174203_Initial','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123003526_Serving','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123005916_EndpointVersionsOnly','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123020021_ServingSettingsAndBatchLineage','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123053632_EndpointScaling','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123060801_DriftReports','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123062325_Feedback','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123070350_MonitorPolicies','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123071847_ModelBaselines','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261123102006_AliasHistoryAndAuditDetail','10.0.15');
INSERT INTO __EFMigrationsHistory VALUES('20261202055754_StrictCategories','10.0.15');
CREATE TABLE IF NOT EXISTS "artifacts" (
    "RunId" TEXT NOT NULL,
    "Path" TEXT NOT NULL,
    "Sha256" TEXT NOT NULL,
    "Size" INTEGER NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    CONSTRAINT "PK_artifacts" PRIMARY KEY ("RunId", "Path")
);
INSERT INTO artifacts VALUES('01a236b843a8763784e3e28a15ede10c','confusion_matrix.json','8eddad57f2e1a4019be1a6c22188ba05e08e0c5d2855a28cca90ca5ef728c537',43,1796214375678);
INSERT INTO artifacts VALUES('01a236b843a8763784e3e28a15ede10c','feature_importance.json','cc978be5ab093d2b7fb688557d3772db2cf0fcebcd4262ff5954e634d0e2fbbd',13,1796214375690);
INSERT INTO artifacts VALUES('01a236b843a8763784e3e28a15ede10c','model/package.zip','cff1fe02b982fb7fb3654af90a0140cfd2760060e14751c9ddbb1af7b0865543',3099,1796214375734);
INSERT INTO artifacts VALUES('01a236b843a8763784e3e28a15ede10c','model/baseline.json','afd84f2de7e4494bf47f25a94a60ad1615ba8550fef2c40a115e48071bf99df0',20493,1796214375775);
CREATE TABLE IF NOT EXISTS "audit_log" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_audit_log" PRIMARY KEY AUTOINCREMENT,
    "Time" INTEGER NOT NULL,
    "Actor" TEXT NOT NULL,
    "Role" TEXT NULL,
    "Method" TEXT NOT NULL,
    "Path" TEXT NOT NULL,
    "Status" INTEGER NOT NULL,
    "Outcome" TEXT NOT NULL,
    "RemoteAddress" TEXT NULL
, "Detail" TEXT NULL);
INSERT INTO audit_log VALUES(1,1796214374997,'admin','admin','POST','/api/v1/datasets/tiny/versions',201,'ok','127.0.0.1',NULL);
INSERT INTO audit_log VALUES(2,1796214375303,'admin','admin','POST','/api/v1/train',202,'ok','127.0.0.1',NULL);
CREATE TABLE IF NOT EXISTS "blobs" (
    "Sha256" TEXT NOT NULL CONSTRAINT "PK_blobs" PRIMARY KEY,
    "Size" INTEGER NOT NULL,
    "CreatedAt" INTEGER NOT NULL
);
INSERT INTO blobs VALUES('caa2e4aa4b06e7c937b3f4eba242451a976e28a9207adf258a7cf3a97a61a237',629,1796214374904);
INSERT INTO blobs VALUES('8eddad57f2e1a4019be1a6c22188ba05e08e0c5d2855a28cca90ca5ef728c537',43,1796214375678);
INSERT INTO blobs VALUES('cc978be5ab093d2b7fb688557d3772db2cf0fcebcd4262ff5954e634d0e2fbbd',13,1796214375690);
INSERT INTO blobs VALUES('cff1fe02b982fb7fb3654af90a0140cfd2760060e14751c9ddbb1af7b0865543',3099,1796214375734);
INSERT INTO blobs VALUES('afd84f2de7e4494bf47f25a94a60ad1615ba8550fef2c40a115e48071bf99df0',20493,1796214375775);
CREATE TABLE IF NOT EXISTS "datasets" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_datasets" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Description" TEXT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "DeletedAt" INTEGER NULL
);
INSERT INTO datasets VALUES(1,'tiny',NULL,1796214374904,NULL);
CREATE TABLE IF NOT EXISTS "experiments" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_experiments" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Description" TEXT NULL,
    "TagsJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL
);
INSERT INTO experiments VALUES(1,'tiny',NULL,'{}',1796214375330);
CREATE TABLE IF NOT EXISTS "job_log" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_job_log" PRIMARY KEY AUTOINCREMENT,
    "JobId" TEXT NOT NULL,
    "Time" INTEGER NOT NULL,
    "Line" TEXT NOT NULL
);
INSERT INTO job_log VALUES(1,'01a236b84368735ba52bf8ad1b5780b7',1796214375272,'queued: train lightgbm on tiny:1, target ''label''');
INSERT INTO job_log VALUES(2,'01a236b84368735ba52bf8ad1b5780b7',1796214375461,'run 01a236b843a8763784e3e28a15ede10c: training lightgbm on tiny:1 (12 rows), target ''label''');
INSERT INTO job_log VALUES(3,'01a236b84368735ba52bf8ad1b5780b7',1796214375545,'5-fold cross-validation of 12 rows');
INSERT INTO job_log VALUES(4,'01a236b84368735ba52bf8ad1b5780b7',1796214375613,'fold 1/5 in 0.1 s: auc 0.5000');
INSERT INTO job_log VALUES(5,'01a236b84368735ba52bf8ad1b5780b7',1796214375616,'fold 2/5 in 0.0 s: auc 0.5000');
INSERT INTO job_log VALUES(6,'01a236b84368735ba52bf8ad1b5780b7',1796214375618,'fold 3/5 in 0.0 s: auc 0.5000');
INSERT INTO job_log VALUES(7,'01a236b84368735ba52bf8ad1b5780b7',1796214375620,'fold 4/5 in 0.0 s: auc NaN');
INSERT INTO job_log VALUES(8,'01a236b84368735ba52bf8ad1b5780b7',1796214375622,'fold 5/5 in 0.0 s: auc 0.5000');
INSERT INTO job_log VALUES(9,'01a236b84368735ba52bf8ad1b5780b7',1796214375629,'fitting the final model on all 12 rows');
INSERT INTO job_log VALUES(10,'01a236b84368735ba52bf8ad1b5780b7',1796214375646,'binary model (lightgbm) trained in 0.2 s; 5-fold cross-validation: auc 0.5000, pr_auc 0.5417, accuracy 0.3667, f1 0.4000, log_loss 0.7209');
INSERT INTO job_log VALUES(11,'01a236b84368735ba52bf8ad1b5780b7',1796214375692,'permutation importance: x 0.0000, y 0.0000');
INSERT INTO job_log VALUES(12,'01a236b84368735ba52bf8ad1b5780b7',1796214375875,'registered tiny:1');
INSERT INTO job_log VALUES(13,'01a236b84368735ba52bf8ad1b5780b7',1796214375884,'succeeded');
CREATE TABLE IF NOT EXISTS "jobs" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_jobs" PRIMARY KEY,
    "Kind" TEXT NOT NULL,
    "Status" TEXT NOT NULL,
    "SpecJson" TEXT NOT NULL,
    "RunId" TEXT NULL,
    "Attempts" INTEGER NOT NULL,
    "MaxRunSeconds" INTEGER NOT NULL,
    "Retries" INTEGER NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "StartedAt" INTEGER NULL,
    "EndedAt" INTEGER NULL,
    "Error" TEXT NULL,
    "ResultJson" TEXT NULL,
    "CreatedBy" TEXT NULL
);
INSERT INTO jobs VALUES('01a236b84368735ba52bf8ad1b5780b7','train','SUCCEEDED','{"dataset":"tiny:1","target":"label","trainer":"lightgbm","register":"tiny"}','01a236b843a8763784e3e28a15ede10c',1,3600,1,1796214375272,1796214375296,1796214375884,NULL,'{"run_id":"01a236b843a8763784e3e28a15ede10c","task":"binary","trainer":"lightgbm","validation":"5-fold cross-validation","metrics":{"auc":0.5,"pr_auc":0.5416666666666666,"accuracy":0.36666666666666664,"f1":0.4,"log_loss":0.7208895868978062},"model":{"name":"tiny","version":1},"feature_importance":{"x":0,"y":0},"confusion_matrix":{"labels":["a","b"],"counts":[[1,5],[2,4]]},"iterations":1}','admin');
CREATE TABLE IF NOT EXISTS "metrics" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_metrics" PRIMARY KEY AUTOINCREMENT,
    "RunId" TEXT NOT NULL,
    "Key" TEXT NOT NULL,
    "Value" REAL NOT NULL,
    "Step" INTEGER NOT NULL,
    "Timestamp" INTEGER NOT NULL
);
INSERT INTO metrics VALUES(1,'01a236b843a8763784e3e28a15ede10c','auc',0.5,0,1796214375665);
INSERT INTO metrics VALUES(2,'01a236b843a8763784e3e28a15ede10c','pr_auc',0.54166666666666662965,0,1796214375665);
INSERT INTO metrics VALUES(3,'01a236b843a8763784e3e28a15ede10c','accuracy',0.36666666666666664076,0,1796214375665);
INSERT INTO metrics VALUES(4,'01a236b843a8763784e3e28a15ede10c','f1',0.4000000000000000222,0,1796214375665);
INSERT INTO metrics VALUES(5,'01a236b843a8763784e3e28a15ede10c','log_loss',0.72088958689780624489,0,1796214375665);
CREATE TABLE IF NOT EXISTS "model_aliases" (
    "ModelId" INTEGER NOT NULL,
    "Alias" TEXT NOT NULL,
    "Version" INTEGER NOT NULL,
    CONSTRAINT "PK_model_aliases" PRIMARY KEY ("ModelId", "Alias")
);
CREATE TABLE IF NOT EXISTS "model_versions" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_model_versions" PRIMARY KEY AUTOINCREMENT,
    "ModelId" INTEGER NOT NULL,
    "Version" INTEGER NOT NULL,
    "RunId" TEXT NOT NULL,
    "ArtifactPath" TEXT NOT NULL,
    "Sha256" TEXT NOT NULL,
    "Size" INTEGER NOT NULL,
    "Description" TEXT NULL,
    "TagsJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "CreatedBy" TEXT NULL
);
INSERT INTO model_versions VALUES(1,1,1,'01a236b843a8763784e3e28a15ede10c','model/package.zip','cff1fe02b982fb7fb3654af90a0140cfd2760060e14751c9ddbb1af7b0865543',3099,'lightgbm on tiny:1','{}',1796214375842,'admin');
CREATE TABLE IF NOT EXISTS "models" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_models" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Description" TEXT NULL,
    "TagsJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL
);
INSERT INTO models VALUES(1,'tiny',NULL,'{}',1796214375822);
CREATE TABLE IF NOT EXISTS "run_inputs" (
    "RunId" TEXT NOT NULL,
    "DatasetVersionId" INTEGER NOT NULL,
    CONSTRAINT "PK_run_inputs" PRIMARY KEY ("RunId", "DatasetVersionId")
);
INSERT INTO run_inputs VALUES('01a236b843a8763784e3e28a15ede10c',1);
CREATE TABLE IF NOT EXISTS "run_params" (
    "RunId" TEXT NOT NULL,
    "Key" TEXT NOT NULL,
    "Value" TEXT NOT NULL,
    CONSTRAINT "PK_run_params" PRIMARY KEY ("RunId", "Key")
);
INSERT INTO run_params VALUES('01a236b843a8763784e3e28a15ede10c','dataset','tiny:1');
INSERT INTO run_params VALUES('01a236b843a8763784e3e28a15ede10c','iterations','100');
INSERT INTO run_params VALUES('01a236b843a8763784e3e28a15ede10c','seed','42');
INSERT INTO run_params VALUES('01a236b843a8763784e3e28a15ede10c','target','label');
INSERT INTO run_params VALUES('01a236b843a8763784e3e28a15ede10c','trainer','lightgbm');
CREATE TABLE IF NOT EXISTS "run_tags" (
    "RunId" TEXT NOT NULL,
    "Key" TEXT NOT NULL,
    "Value" TEXT NOT NULL,
    CONSTRAINT "PK_run_tags" PRIMARY KEY ("RunId", "Key")
);
INSERT INTO run_tags VALUES('01a236b843a8763784e3e28a15ede10c','job_id','01a236b84368735ba52bf8ad1b5780b7');
INSERT INTO run_tags VALUES('01a236b843a8763784e3e28a15ede10c','task','binary');
INSERT INTO run_tags VALUES('01a236b843a8763784e3e28a15ede10c','validation','5-fold cross-validation');
CREATE TABLE IF NOT EXISTS "tokens" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_tokens" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Role" TEXT NOT NULL,
    "Hash" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "RevokedAt" INTEGER NULL,
    "LastUsedAt" INTEGER NULL
);
INSERT INTO tokens VALUES(1,'admin','admin','3f9f6c932e84741481207366506eb26fee64fd1ba362e95a373cfa7cb8c2cd9f',1796214357949,NULL,1796214374742);
CREATE TABLE IF NOT EXISTS "dataset_versions" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_dataset_versions" PRIMARY KEY AUTOINCREMENT,
    "DatasetId" INTEGER NOT NULL,
    "Version" INTEGER NOT NULL,
    "SourceSha256" TEXT NOT NULL,
    "ParquetSha256" TEXT NOT NULL,
    "SizeBytes" INTEGER NOT NULL,
    "Rows" INTEGER NOT NULL,
    "SourceFormat" TEXT NOT NULL,
    "ColumnsJson" TEXT NOT NULL,
    "ProfileJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "CreatedBy" TEXT NULL,
    "DeletedAt" INTEGER NULL, "RunId" TEXT NULL,
    CONSTRAINT "FK_dataset_versions_datasets_DatasetId" FOREIGN KEY ("DatasetId") REFERENCES "datasets" ("Id") ON DELETE CASCADE
);
INSERT INTO dataset_versions VALUES(1,1,1,'08e38a51c278cb59f853af239c3dc6bf369aac62038a01d61c495a834a87c04e','caa2e4aa4b06e7c937b3f4eba242451a976e28a9207adf258a7cf3a97a61a237',629,12,'csv','[{"name":"x","type":"BIGINT","nullable":false},{"name":"y","type":"BIGINT","nullable":false},{"name":"label","type":"VARCHAR","nullable":false}]','[{"name":"x","type":"BIGINT","count":12,"missing":0,"distinct":9,"min":1,"max":9,"mean":4.666666666666667,"std":2.902454551623922,"quantiles":{"p1":1,"p5":1,"p25":2,"p50":4.5,"p75":7.5,"p95":8.899999856948853,"p99":9},"histogram":[{"lower":1,"upper":1.4,"count":2},{"lower":1.4,"upper":1.8,"count":0},{"lower":1.8,"upper":2.2,"count":2},{"lower":2.2,"upper":2.6,"count":0},{"lower":2.6,"upper":3,"count":0},{"lower":3,"upper":3.4000000000000004,"count":1},{"lower":3.4000000000000004,"upper":3.8000000000000003,"count":0},{"lower":3.8000000000000003,"upper":4.2,"count":1},{"lower":4.2,"upper":4.6,"count":0},{"lower":4.6,"upper":5,"count":0},{"lower":5,"upper":5.4,"count":1},{"lower":5.4,"upper":5.800000000000001,"count":0},{"lower":5.800000000000001,"upper":6.2,"count":1},{"lower":6.2,"upper":6.6000000000000005,"count":0},{"lower":6.6000000000000005,"upper":7,"count":0},{"lower":7,"upper":7.4,"count":1},{"lower":7.4,"upper":7.800000000000001,"count":0},{"lower":7.800000000000001,"upper":8.2,"count":2},{"lower":8.2,"upper":8.600000000000001,"count":0},{"lower":8.600000000000001,"upper":9,"count":1}]},{"name":"y","type":"BIGINT","count":12,"missing":0,"distinct":7,"min":1,"max":9,"mean":4.083333333333333,"std":3.3154825052206567,"quantiles":{"p1":1,"p5":1,"p25":1,"p50":2.5,"p75":7.5,"p95":9,"p99":9},"histogram":[{"lower":1,"upper":1.4,"count":4},{"lower":1.4,"upper":1.8,"count":0},{"lower":1.8,"upper":2.2,"count":2},{"lower":2.2,"upper":2.6,"count":0},{"lower":2.6,"upper":3,"count":0},{"lower":3,"upper":3.4000000000000004,"count":1},{"lower":3.4000000000000004,"upper":3.8000000000000003,"count":0},{"lower":3.8000000000000003,"upper":4.2,"count":0},{"lower":4.2,"upper":4.6,"count":0},{"lower":4.6,"upper":5,"count":0},{"lower":5,"upper":5.4,"count":1},{"lower":5.4,"upper":5.800000000000001,"count":0},{"lower":5.800000000000001,"upper":6.2,"count":0},{"lower":6.2,"upper":6.6000000000000005,"count":0},{"lower":6.6000000000000005,"upper":7,"count":0},{"lower":7,"upper":7.4,"count":1},{"lower":7.4,"upper":7.800000000000001,"count":0},{"lower":7.800000000000001,"upper":8.2,"count":1},{"lower":8.2,"upper":8.600000000000001,"count":0},{"lower":8.600000000000001,"upper":9,"count":2}]},{"name":"label","type":"VARCHAR","count":12,"missing":0,"distinct":2,"top_values":[{"value":"a","count":6},{"value":"b","count":6}]}]',1796214374904,'admin',NULL,NULL);
CREATE TABLE IF NOT EXISTS "runs" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_runs" PRIMARY KEY,
    "ExperimentId" INTEGER NOT NULL,
    "Name" TEXT NULL,
    "Status" TEXT NOT NULL,
    "StartTime" INTEGER NOT NULL,
    "EndTime" INTEGER NULL,
    "HeartbeatAt" INTEGER NOT NULL,
    "HeartbeatTimeoutSeconds" INTEGER NOT NULL,
    "FailureReason" TEXT NULL,
    "CreatedBy" TEXT NULL,
    CONSTRAINT "FK_runs_experiments_ExperimentId" FOREIGN KEY ("ExperimentId") REFERENCES "experiments" ("Id") ON DELETE CASCADE
);
INSERT INTO runs VALUES('01a236b843a8763784e3e28a15ede10c',1,'train-lightgbm','FINISHED',1796214375336,1796214375878,1796214375668,3900,NULL,'admin');
CREATE TABLE IF NOT EXISTS "endpoint_versions" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_endpoint_versions" PRIMARY KEY AUTOINCREMENT,
    "EndpointId" INTEGER NOT NULL,
    "ModelRef" TEXT NOT NULL,
    "ModelName" TEXT NOT NULL,
    "ModelVersion" INTEGER NOT NULL,
    "Weight" INTEGER NOT NULL,
    "Shadow" INTEGER NOT NULL,
    CONSTRAINT "FK_endpoint_versions_endpoints_EndpointId" FOREIGN KEY ("EndpointId") REFERENCES "endpoints" ("Id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "rollouts" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_rollouts" PRIMARY KEY AUTOINCREMENT,
    "Endpoint" TEXT NOT NULL,
    "FromName" TEXT NOT NULL,
    "FromVersion" INTEGER NOT NULL,
    "ToName" TEXT NOT NULL,
    "ToVersion" INTEGER NOT NULL,
    "Canary" INTEGER NOT NULL,
    "Step" INTEGER NOT NULL,
    "IntervalSeconds" INTEGER NOT NULL,
    "MaxErrorRate" REAL NOT NULL,
    "MaxP99Ms" REAL NULL,
    "MinRequests" INTEGER NOT NULL,
    "Weight" INTEGER NOT NULL,
    "Status" TEXT NOT NULL,
    "Reason" TEXT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "UpdatedAt" INTEGER NOT NULL,
    "NextAt" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS "endpoints" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_endpoints" PRIMARY KEY AUTOINCREMENT,
    "CreatedAt" INTEGER NOT NULL,
    "MaxConcurrency" INTEGER NULL,
    "MaxQueue" INTEGER NULL,
    "Name" TEXT NOT NULL,
    "UpdatedAt" INTEGER NOT NULL
, "BatchMaxDelayMs" REAL NULL, "BatchMaxRows" INTEGER NULL, "CaptureSampleRate" REAL NULL, "TimeoutMs" INTEGER NULL, "IdleSeconds" INTEGER NULL, "MaxReplicas" INTEGER NULL, "MinReplicas" INTEGER NULL, "StrictCategories" INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS "drift_reports" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_drift_reports" PRIMARY KEY AUTOINCREMENT,
    "Endpoint" TEXT NOT NULL,
    "ModelName" TEXT NOT NULL,
    "ModelVersion" INTEGER NOT NULL,
    "From" INTEGER NOT NULL,
    "To" INTEGER NOT NULL,
    "Rows" INTEGER NOT NULL,
    "Status" TEXT NOT NULL,
    "Drifted" INTEGER NOT NULL,
    "DriftShare" REAL NOT NULL,
    "DetailsJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS "feedback" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_feedback" PRIMARY KEY AUTOINCREMENT,
    "Endpoint" TEXT NOT NULL,
    "RequestId" TEXT NOT NULL,
    "Row" INTEGER NOT NULL,
    "ModelName" TEXT NOT NULL,
    "ModelVersion" INTEGER NOT NULL,
    "PredictedAt" INTEGER NOT NULL,
    "PredictionJson" TEXT NOT NULL,
    "Label" TEXT NULL,
    "Value" REAL NULL,
    "ReceivedAt" INTEGER NOT NULL
, "InputsJson" TEXT NULL);
CREATE TABLE IF NOT EXISTS "monitor_policies" (
    "Endpoint" TEXT NOT NULL CONSTRAINT "PK_monitor_policies" PRIMARY KEY,
    "PolicyJson" TEXT NOT NULL,
    "NextCheckAt" INTEGER NULL,
    "LastCheckAt" INTEGER NULL,
    "UpdatedAt" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS "policy_decisions" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_policy_decisions" PRIMARY KEY AUTOINCREMENT,
    "Endpoint" TEXT NOT NULL,
    "Trigger" TEXT NOT NULL,
    "Status" TEXT NOT NULL,
    "ReasonsJson" TEXT NOT NULL,
    "ChampionName" TEXT NOT NULL,
    "ChampionVersion" INTEGER NOT NULL,
    "ChallengerVersion" INTEGER NULL,
    "DriftReportId" INTEGER NULL,
    "JobId" TEXT NULL,
    "TrainingData" TEXT NULL,
    "Holdout" TEXT NULL,
    "Metric" TEXT NULL,
    "ScoresJson" TEXT NOT NULL,
    "RolloutId" INTEGER NULL,
    "AlertsJson" TEXT NOT NULL,
    "PolicyJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    "UpdatedAt" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS "model_baselines" (
    "ModelName" TEXT NOT NULL,
    "ModelVersion" INTEGER NOT NULL,
    "BaselineJson" TEXT NOT NULL,
    "CreatedAt" INTEGER NOT NULL,
    CONSTRAINT "PK_model_baselines" PRIMARY KEY ("ModelName", "ModelVersion")
);
CREATE TABLE IF NOT EXISTS "model_alias_events" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_model_alias_events" PRIMARY KEY AUTOINCREMENT,
    "ModelId" INTEGER NOT NULL,
    "Alias" TEXT NOT NULL,
    "Version" INTEGER NULL,
    "Time" INTEGER NOT NULL,
    "Actor" TEXT NULL
);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('endpoint_versions',0);
INSERT INTO sqlite_sequence VALUES('endpoints',0);
INSERT INTO sqlite_sequence VALUES('tokens',1);
INSERT INTO sqlite_sequence VALUES('datasets',1);
INSERT INTO sqlite_sequence VALUES('dataset_versions',1);
INSERT INTO sqlite_sequence VALUES('audit_log',2);
INSERT INTO sqlite_sequence VALUES('job_log',13);
INSERT INTO sqlite_sequence VALUES('experiments',1);
INSERT INTO sqlite_sequence VALUES('metrics',5);
INSERT INTO sqlite_sequence VALUES('models',1);
INSERT INTO sqlite_sequence VALUES('model_versions',1);
CREATE INDEX "IX_artifacts_Sha256" ON "artifacts" ("Sha256");
CREATE INDEX "IX_audit_log_Time" ON "audit_log" ("Time");
CREATE INDEX "IX_dataset_versions_DatasetId_SourceSha256" ON "dataset_versions" ("DatasetId", "SourceSha256");
CREATE UNIQUE INDEX "IX_dataset_versions_DatasetId_Version" ON "dataset_versions" ("DatasetId", "Version");
CREATE INDEX "IX_dataset_versions_ParquetSha256" ON "dataset_versions" ("ParquetSha256");
CREATE UNIQUE INDEX "IX_datasets_Name" ON "datasets" ("Name");
CREATE UNIQUE INDEX "IX_experiments_Name" ON "experiments" ("Name");
CREATE INDEX "IX_job_log_JobId_Id" ON "job_log" ("JobId", "Id");
CREATE INDEX "IX_jobs_Status_CreatedAt" ON "jobs" ("Status", "CreatedAt");
CREATE INDEX "IX_metrics_RunId_Key_Step" ON "metrics" ("RunId", "Key", "Step");
CREATE UNIQUE INDEX "IX_model_versions_ModelId_Version" ON "model_versions" ("ModelId", "Version");
CREATE INDEX "IX_model_versions_Sha256" ON "model_versions" ("Sha256");
CREATE UNIQUE INDEX "IX_models_Name" ON "models" ("Name");
CREATE INDEX "IX_runs_ExperimentId_StartTime" ON "runs" ("ExperimentId", "StartTime");
CREATE INDEX "IX_runs_Status" ON "runs" ("Status");
CREATE UNIQUE INDEX "IX_tokens_Hash" ON "tokens" ("Hash");
CREATE UNIQUE INDEX "IX_tokens_Name" ON "tokens" ("Name");
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE UNIQUE INDEX "IX_endpoint_versions_EndpointId_ModelName_ModelVersion" ON "endpoint_versions" ("EndpointId", "ModelName", "ModelVersion");
CREATE INDEX "IX_rollouts_Endpoint_Status" ON "rollouts" ("Endpoint", "Status");
CREATE UNIQUE INDEX "IX_endpoints_Name" ON "endpoints" ("Name");
CREATE INDEX "IX_drift_reports_Endpoint_Id" ON "drift_reports" ("Endpoint", "Id");
CREATE INDEX "IX_feedback_Endpoint_ModelName_ModelVersion_PredictedAt" ON "feedback" ("Endpoint", "ModelName", "ModelVersion", "PredictedAt");
CREATE UNIQUE INDEX "IX_feedback_Endpoint_RequestId_Row" ON "feedback" ("Endpoint", "RequestId", "Row");
CREATE INDEX "IX_policy_decisions_Endpoint_Id" ON "policy_decisions" ("Endpoint", "Id");
CREATE INDEX "IX_policy_decisions_Status" ON "policy_decisions" ("Status");
CREATE INDEX "IX_model_alias_events_ModelId_Alias_Id" ON "model_alias_events" ("ModelId", "Alias", "Id");
COMMIT;
