using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stratus;

/// <summary>One page of a list; pass <see cref="NextPageToken"/> back as <c>page_token</c> for the next page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextPageToken);

/// <summary>A column of a dataset version as DuckDB inferred it.</summary>
/// <param name="Name">Column name as in the file header.</param>
/// <param name="Type">DuckDB logical type, e.g. <c>BIGINT</c>, <c>DOUBLE</c>, <c>VARCHAR</c>, <c>DATE</c>.</param>
/// <param name="Nullable">True when at least one value is missing.</param>
public sealed record ColumnSchema(string Name, string Type, bool Nullable);

/// <summary>A bucket of a numeric histogram: values in [<see cref="Lower"/>, <see cref="Upper"/>).</summary>
public sealed record HistogramBin(double Lower, double Upper, long Count);

/// <summary>A frequent value of a categorical column.</summary>
public sealed record ValueCount(string Value, long Count);

/// <summary>
/// Statistics of one column of a dataset version; drift detection compares live traffic against these.
/// Numeric fields are set for numeric columns, <see cref="TopValues"/> for the others.
/// </summary>
/// <param name="NonFinite">Numeric columns: values that are NaN or infinite (counted in <see cref="Count"/>, left out of the statistics).</param>
public sealed record ColumnProfile(
    string Name,
    string Type,
    long Count,
    long Missing,
    long Distinct,
    double? Min,
    double? Max,
    double? Mean,
    double? Std,
    IReadOnlyDictionary<string, double>? Quantiles,
    IReadOnlyList<HistogramBin>? Histogram,
    IReadOnlyList<ValueCount>? TopValues,
    long NonFinite = 0);

/// <summary>A named dataset and a summary of its versions.</summary>
public sealed record DatasetInfo(string Name, string? Description, int LatestVersion, int VersionCount, DateTimeOffset CreatedAt);

/// <summary>An immutable version of a dataset, stored as Parquet.</summary>
/// <param name="Name">Dataset name.</param>
/// <param name="Version">Version number, starting at 1.</param>
/// <param name="Rows">Number of data rows.</param>
/// <param name="Sha256">SHA-256 of the bytes that were uploaded; the same bytes always map to the same version.</param>
/// <param name="ParquetSha256">SHA-256 of the stored Parquet file.</param>
/// <param name="SizeBytes">Size of the stored Parquet file.</param>
/// <param name="SourceFormat"><c>csv</c> or <c>parquet</c>.</param>
/// <param name="Columns">The inferred schema.</param>
/// <param name="CreatedAt">When the version was created.</param>
/// <param name="CreatedBy">Name of the token that created it.</param>
/// <param name="Created">False when the upload matched an existing version and nothing new was stored.</param>
/// <param name="RunId">The run that produced it (a batch inference job): its lineage. Null for uploads.</param>
public sealed record DatasetVersionInfo(
    string Name,
    int Version,
    long Rows,
    string Sha256,
    string ParquetSha256,
    long SizeBytes,
    string SourceFormat,
    IReadOnlyList<ColumnSchema> Columns,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    bool Created = false,
    string? RunId = null);

/// <summary>The first rows of a dataset version, every value as text (null where missing).</summary>
public sealed record DatasetPreview(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string?>> Rows);

/// <summary>An experiment groups the runs of one modelling question.</summary>
public sealed record ExperimentInfo(long Id, string Name, string? Description, IReadOnlyDictionary<string, string> Tags, DateTimeOffset CreatedAt);

/// <summary>Creates an experiment.</summary>
public sealed record CreateExperimentRequest(string Name, string? Description = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>A dataset version a run read.</summary>
public sealed record RunInput(string Dataset, int Version, string Sha256);

/// <summary>A tracked run: parameters, tags, metrics, inputs and artifacts of one training attempt.</summary>
public sealed record RunInfo(
    string Id,
    long ExperimentId,
    string ExperimentName,
    string? Name,
    string Status,
    DateTimeOffset StartTime,
    DateTimeOffset? EndTime,
    DateTimeOffset HeartbeatAt,
    int HeartbeatTimeoutSeconds,
    string? FailureReason,
    IReadOnlyDictionary<string, string> Params,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<RunInput> Inputs,
    IReadOnlyDictionary<string, double> LatestMetrics);

/// <summary>Starts a run in an experiment, given by id or by name (created when missing).</summary>
/// <param name="Experiment">Experiment name; created if it does not exist.</param>
/// <param name="Name">Optional run name.</param>
/// <param name="Params">Initial parameters.</param>
/// <param name="Tags">Initial tags.</param>
/// <param name="HeartbeatTimeoutSeconds">How long the run may go without a heartbeat before it is marked FAILED (default 300).</param>
public sealed record CreateRunRequest(
    string Experiment,
    string? Name = null,
    IReadOnlyDictionary<string, string>? Params = null,
    IReadOnlyDictionary<string, string>? Tags = null,
    int? HeartbeatTimeoutSeconds = null);

/// <summary>Ends a run, or changes its tags.</summary>
/// <param name="Status">FINISHED, FAILED or KILLED to end the run.</param>
/// <param name="FailureReason">Why the run failed, when it did.</param>
public sealed record UpdateRunRequest(string? Status = null, string? FailureReason = null);

/// <summary>Adds parameters and tags to a run. Parameters are write-once: a different value for a logged key is refused.</summary>
public sealed record LogParamsRequest(IReadOnlyDictionary<string, string>? Params = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>One metric observation.</summary>
/// <param name="Key">Metric name.</param>
/// <param name="Value">Observed value.</param>
/// <param name="Step">Iteration or epoch (default 0).</param>
/// <param name="Timestamp">Unix time in milliseconds (default: when the server received it).</param>
public sealed record MetricPoint(string Key, double Value, long Step = 0, long? Timestamp = null);

/// <summary>Many metric points in one request.</summary>
public sealed record LogMetricsRequest(IReadOnlyList<MetricPoint> Metrics);

/// <summary>Records which dataset versions a run read (references <c>NAME</c> or <c>NAME:VERSION</c>).</summary>
public sealed record LogInputsRequest(IReadOnlyList<string> Datasets);

/// <summary>A file logged by a run, stored by content.</summary>
public sealed record ArtifactInfo(string Path, string Sha256, long SizeBytes, DateTimeOffset CreatedAt);

/// <summary>A named model in the registry.</summary>
public sealed record RegisteredModelInfo(
    string Name,
    string? Description,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyDictionary<string, int> Aliases,
    int LatestVersion,
    DateTimeOffset CreatedAt);

/// <summary>Registers a model name.</summary>
public sealed record CreateModelRequest(string Name, string? Description = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>Changes a model's or model version's description and tags; null fields are left as they are.</summary>
public sealed record UpdateModelRequest(string? Description = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>Where a model version came from: the run that produced it and the dataset versions that run read.</summary>
public sealed record ModelLineage(string RunId, long? ExperimentId, string? ExperimentName, IReadOnlyList<RunInput> Datasets);

/// <summary>An immutable version of a registered model, pointing at a run's artifact.</summary>
public sealed record ModelVersionInfo(
    string Name,
    int Version,
    string RunId,
    string ArtifactPath,
    string Sha256,
    long SizeBytes,
    string? Description,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<string> Aliases,
    ModelLineage Lineage,
    DateTimeOffset CreatedAt);

/// <summary>Creates a model version from an artifact a run logged.</summary>
/// <param name="RunId">The run that logged the artifact.</param>
/// <param name="ArtifactPath">The artifact's path within the run (a file, or a folder prefix such as <c>model</c>).</param>
public sealed record CreateModelVersionRequest(string RunId, string ArtifactPath, string? Description = null, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>An alias moved to a version, or removed (no version), by whom.</summary>
public sealed record AliasChange(string Alias, int? Version, DateTimeOffset Time, string? Actor);

/// <summary>Points an alias such as <c>champion</c> at a version.</summary>
public sealed record SetAliasRequest(int Version);

/// <summary>
/// An API token (the secret itself is shown only once, at creation or rotation). It stops working at
/// <c>ExpiresAt</c> (none: a token made before tokens expired); after a rotation the previous secret works until
/// <c>PreviousExpiresAt</c>.
/// </summary>
/// <param name="Endpoints">For an <c>invoke</c> token, the endpoints whose predict route it may call (and nothing else).</param>
/// <param name="User">The user or service account the token belongs to: who its calls are recorded as.</param>
/// <param name="Project">The one project the token may work in; none: every project of its user.</param>
public sealed record TokenInfo(long Id, string Name, string Role, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt,
    DateTimeOffset? ExpiresAt = null, DateTimeOffset? PreviousExpiresAt = null, IReadOnlyList<string>? Endpoints = null, string? User = null, string? Project = null);

/// <summary>
/// Creates a token with a role (viewer, editor or admin) that expires after <c>ExpiresInDays</c> (default: the server's
/// <c>TokenLifetime</c>); or, with role <c>invoke</c> and <c>Endpoints</c>, a token that may only call those endpoints' predict route.
/// The token belongs to <c>User</c> (a user or service account); without one, to a service account of the token's name,
/// made with it as a member of the project the request works in (its <c>Stratus-Project</c>), with the token's role. With
/// <c>ProjectOnly</c> the token works only in that project (an invoke token always does: its endpoints are that project's).
/// </summary>
public sealed record CreateTokenRequest(string Name, string Role, int? ExpiresInDays = null, IReadOnlyList<string>? Endpoints = null, string? User = null,
    bool ProjectOnly = false);

/// <summary>A project, and the caller's role in it (<c>admin</c> for an admin, who reaches every project).</summary>
public sealed record ProjectInfo(string Name, DateTimeOffset CreatedAt, string CreatedBy, string Role, int Members);

/// <summary>Creates a project; its maker becomes its owner.</summary>
public sealed record CreateProjectRequest(string Name);

/// <summary>A member of a project and its role there (viewer, editor or owner); a token's own role still caps what it does.</summary>
public sealed record ProjectMemberInfo(string User, string Role, DateTimeOffset AddedAt, string AddedBy);

/// <summary>Adds a member to a project, or changes its role.</summary>
public sealed record SetMemberRequest(string Role);

/// <summary>
/// Lets another project use one of this project's resources (<c>Kind</c> <c>model</c> or <c>dataset</c>) by the
/// qualified name <c>project/name</c>: train in one project on another's data, deploy another's model.
/// </summary>
public sealed record GrantRequest(string Kind, string Resource, string To);

/// <summary>A grant: who may use what of this project, given by whom and when.</summary>
public sealed record GrantInfo(long Id, string Project, string Kind, string Resource, string To, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>A person (<c>user</c>) or a program (<c>service</c>) that owns tokens; calls are recorded under its name.</summary>
/// <param name="Admin">Whether its tokens may be admin tokens.</param>
/// <param name="Tokens">Its live tokens (not revoked, not expired).</param>
/// <param name="DisabledAt">When it was disabled: its tokens stopped working then, and no new one can be made.</param>
public sealed record UserInfo(string Name, string Kind, bool Admin, DateTimeOffset CreatedAt, string CreatedBy, int Tokens, DateTimeOffset? DisabledAt = null);

/// <summary>Creates a user (<c>Kind</c> <c>user</c>, the default) or a service account (<c>service</c>); <c>Admin</c> lets its tokens be admin tokens.</summary>
public sealed record CreateUserRequest(string Name, string? Kind = null, bool Admin = false);

/// <summary>A newly created token and its secret, shown this once.</summary>
public sealed record CreatedToken(TokenInfo Info, string Token);

/// <summary>One entry of the append-only audit log.</summary>
/// <param name="Id">Sequence number.</param>
/// <param name="Time">When the request was answered.</param>
/// <param name="Actor">Token name, or <c>anonymous</c>.</param>
/// <param name="Role">The actor's role, when authenticated.</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Path">Request path.</param>
/// <param name="Status">HTTP status of the answer.</param>
/// <param name="Outcome"><c>ok</c>, <c>refused</c> (401/403) or <c>error</c>.</param>
/// <param name="RemoteAddress">Client address.</param>
/// <param name="Detail">What was done, in words: for console actions, policy decisions and automatic roll backs.</param>
public sealed record AuditEntry(long Id, DateTimeOffset Time, string Actor, string? Role, string Method, string Path, int Status, string Outcome, string? RemoteAddress,
    string? Detail = null, string? PrevHash = null, string? Hash = null);

/// <summary>
/// What <c>GET /api/v1/audit/verify</c> found walking the audit chain: intact, or the first row that breaks it and why.
/// <c>Head</c> is the last intact row's hash: kept elsewhere, it also shows later that no row was cut off the end.
/// </summary>
public sealed record AuditVerification(bool Intact, long Rows, long Unchained, string? Head, long? BrokenAt, string? Reason);

/// <summary>What a storage garbage collection removed.</summary>
public sealed record GcResult(int BlobsDeleted, long BytesFreed);

/// <summary>What <c>POST /api/v1/keys/rotate</c> did: the new active key-encryption key, the data keys re-wrapped under it, the keys retired.</summary>
/// <param name="Source">Where the keys are (a key file, or <c>STRATUS_MASTERKEY</c>), never the keys.</param>
public sealed record KeyRotation(string ActiveKey, int Rewrapped, IReadOnlyList<string> Retired, string Source);

/// <summary>A secret as every route shows it: its name and when it was set, never its value.</summary>
public sealed record SecretInfo(string Name, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string UpdatedBy);

/// <summary>A secret's value, set by an admin (<c>PUT /api/v1/secrets/{name}</c>); no route returns it.</summary>
public sealed record SetSecretRequest(string Value);

/// <summary>A key-encryption key as an operator sees it: its id, whether it wraps new data keys, how many data keys it wraps.</summary>
public sealed record KeyStatus(string Id, bool Active, int DataKeys, DateTimeOffset AddedAt, DateTimeOffset? RetiredAt);

/// <summary>The identity behind the presented token: its user or service account, its role, and the token's own name.</summary>
/// <param name="Project">The project the request worked in, and <c>ProjectRole</c> the caller's role there.</param>
public sealed record WhoAmI(string Name, string Role, string? Token = null, string? Project = null, string? ProjectRole = null);

/// <summary>An input column a model needs, with the type it was trained on (DuckDB logical type).</summary>
/// <param name="Name">Column name.</param>
/// <param name="Type">DuckDB logical type it was trained on.</param>
/// <param name="Categories">For a one-hot encoded column, the values seen in training; other values score as unseen (every indicator off) and count as new categories in monitoring.</param>
public sealed record ModelInput(string Name, string Type, IReadOnlyList<string>? Categories = null);

/// <summary>
/// What a model package says about itself: the signature clients must send, what it predicts, how well it did and
/// where it came from. Stored as <c>manifest.json</c> beside the ML.NET model in the package.
/// </summary>
/// <param name="Format">Package format version, <c>stratus-model/1</c>.</param>
/// <param name="Task"><c>binary</c>, <c>multiclass</c> or <c>regression</c>.</param>
/// <param name="Target">The column the model predicts.</param>
/// <param name="Trainer">The trainer that produced it.</param>
/// <param name="Inputs">The columns a prediction request must carry.</param>
/// <param name="Classes">Class labels (negative then positive for binary); empty for regression.</param>
/// <param name="Metrics">Validation metrics.</param>
/// <param name="Validation">How the metrics were measured, e.g. <c>5-fold cross-validation</c>.</param>
/// <param name="Parameters">Training parameters (seed, iterations, ...).</param>
/// <param name="Libraries">Versions of the libraries that trained it.</param>
/// <param name="Dataset">The dataset version it was trained on, <c>NAME:VERSION</c>, when known.</param>
/// <param name="DatasetSha256">SHA-256 of that dataset version.</param>
/// <param name="Members">An ensemble's members (trainer <c>ensemble</c>): each stored under <c>members/N/</c>, its scores averaged with these weights.</param>
public sealed record ModelManifest(
    string Format,
    string Task,
    string Target,
    string Trainer,
    IReadOnlyList<ModelInput> Inputs,
    IReadOnlyList<string> Classes,
    IReadOnlyDictionary<string, double> Metrics,
    string Validation,
    IReadOnlyDictionary<string, string> Parameters,
    IReadOnlyDictionary<string, string> Libraries,
    string? Dataset = null,
    string? DatasetSha256 = null,
    IReadOnlyList<EnsembleMember>? Members = null,
    OnnxSignature? Onnx = null);

/// <summary>
/// How an imported ONNX model is called: which request columns fill which input tensor, which output holds the
/// scores, and what they mean. Every field may be left out at import and is then read off the model; the package's
/// manifest holds it complete.
/// </summary>
/// <param name="Task"><c>binary</c>, <c>multiclass</c> or <c>regression</c>; by default from the output's width (1: regression, 2: binary, more: multiclass).</param>
/// <param name="Classes">Class labels in the order of the output's columns; by default 0, 1, ...</param>
/// <param name="Inputs">Input tensors and the request columns that fill them, in order; by default a rank-1 or [N, 1] input is one column named as the tensor, an [N, F] input F columns named TENSOR_0 ... TENSOR_{F-1}.</param>
/// <param name="Output">The output tensor with the scores; by default the first floating-point tensor output.</param>
/// <param name="Scores"><c>probabilities</c> (the default) or <c>logits</c> (turned into probabilities by softmax, or sigmoid for one column).</param>
/// <param name="Target">The name of what the model predicts, for display; <c>prediction</c> by default.</param>
public sealed record OnnxSignature(
    string? Task = null,
    IReadOnlyList<string>? Classes = null,
    IReadOnlyList<OnnxInput>? Inputs = null,
    string? Output = null,
    string? Scores = null,
    string? Target = null);

/// <summary>An ONNX input tensor and the request columns that fill it, in order (one per position of its last axis).</summary>
public sealed record OnnxInput(string Tensor, IReadOnlyList<string> Columns);

/// <summary>A model inside an ensemble package, with its weight in the average of scores.</summary>
public sealed record EnsembleMember(string Trainer, double Weight, IReadOnlyDictionary<string, string> Parameters);

/// <summary>One prediction: a label with class probabilities for classification, a value for regression.</summary>
public sealed record Prediction(string? Label = null, IReadOnlyDictionary<string, double>? Probabilities = null, double? Value = null);

/// <summary>
/// The shape of one column's values, as drift detection compares them: for numbers their quantiles at
/// <see cref="QuantileCount"/> evenly spaced levels (0, 0.001, ..., 1) with the moments, for categories the count of each value.
/// </summary>
/// <param name="Kind"><c>numeric</c> or <c>categorical</c>.</param>
/// <param name="Count">Rows with a value.</param>
/// <param name="Missing">Rows without one.</param>
/// <param name="Values">A window's own values, sorted, when it is small (for exact tests); never in a baseline.</param>
public sealed record DistributionSketch(string Kind, long Count, long Missing, IReadOnlyList<double>? Quantiles = null, double? Mean = null, double? Std = null,
    IReadOnlyDictionary<string, long>? Counts = null, IReadOnlyList<double>? Values = null)
{
    /// <summary>Quantile levels kept for numeric columns: 1,001, so that distances between distributions are exact to 0.1%.</summary>
    public const int QuantileCount = 1001;
}

/// <summary>
/// What a model version was trained on and how it answered, kept with it as the reference that monitoring compares live
/// requests against: the distribution of every input column on the training data, and of its predictions on validation rows.
/// </summary>
/// <param name="Source">Where the reference comes from, for people.</param>
/// <param name="Prediction">The distribution of the predictions: the positive class's probability (binary), the label (multiclass) or the value (regression).</param>
/// <param name="Metrics">The model's validation metrics, the reference for live performance.</param>
public sealed record ModelBaseline(string Source, long Rows, IReadOnlyDictionary<string, DistributionSketch> Features, DistributionSketch? Prediction,
    IReadOnlyDictionary<string, double> Metrics, DateTimeOffset CreatedAt);

/// <summary>
/// Sets a model version's baseline from a dataset version: its input columns there, and its own predictions on those rows
/// (a sample of 100,000 when larger); metrics too when the dataset holds the target. For imported models, which bring
/// no training data, or to compare with other data than a model was trained on.
/// </summary>
public sealed record SetBaselineRequest(string Dataset);

/// <summary>How one column is judged, instead of the default.</summary>
/// <param name="Method"><c>ks</c>, <c>chisquare</c> (p-value below the threshold: drift), <c>wasserstein</c> (normed by the baseline's deviation), <c>psi</c> or <c>jensenshannon</c> (above the threshold: drift).</param>
public sealed record DriftRule(string Method, double Threshold);

/// <summary>A drift check on demand: the requests captured in the last <paramref name="WindowMinutes"/> minutes (default 60) against the baseline.</summary>
/// <param name="Rules">Methods and thresholds per column (<c>prediction</c> for the predictions), instead of the defaults.</param>
/// <param name="MinRows">Fewer rows than this in the window: insufficient data, not a verdict. Default 30.</param>
/// <param name="From">The window's start instead (with <paramref name="To"/>, default now).</param>
public sealed record DriftCheckRequest(double? WindowMinutes = null, IReadOnlyDictionary<string, DriftRule>? Rules = null, int? MinRows = null, DateTimeOffset? From = null,
    DateTimeOffset? To = null);

/// <summary>
/// One column's drift: the method that decided (by default, for up to 1,000 rows a statistical test, Kolmogorov-Smirnov
/// for numbers and chi-squared for categories; for more a distance, normed Wasserstein or Jensen-Shannon), its score and
/// threshold, every other statistic for reference, and data quality.
/// </summary>
/// <param name="Status"><c>drift</c>, <c>ok</c> or <c>insufficient_data</c> (too few rows to judge: never "ok").</param>
/// <param name="Statistics">psi, jensenshannon, and per kind ks and ks_p_value, wasserstein and wasserstein_normed, or chisquare and chisquare_p_value.</param>
/// <param name="NewCategoryRate">The share of rows with a category the baseline never saw.</param>
/// <param name="OutOfRangeRate">The share of rows outside the baseline's minimum and maximum.</param>
public sealed record FeatureDrift(string Column, string Kind, string Status, string Method, double? Score, double Threshold, long Rows,
    double MissingRate, double BaselineMissingRate, IReadOnlyDictionary<string, double> Statistics, double? NewCategoryRate = null, double? OutOfRangeRate = null);

/// <summary>A drift check of an endpoint: the window, its verdict per column and for the predictions, and columns the model does not know.</summary>
/// <param name="Status"><c>drift</c> (some column drifted), <c>ok</c>, or <c>insufficient_data</c>.</param>
public sealed record DriftReport(long Id, string Endpoint, ModelVersionRef Model, DateTimeOffset From, DateTimeOffset To, long Rows, string Status,
    int Drifted, double DriftShare, IReadOnlyList<FeatureDrift> Features, FeatureDrift? Prediction, IReadOnlyList<string> UnseenColumns, DateTimeOffset CreatedAt);

/// <summary>The true outcome of a prediction an endpoint made: its request id (and row, for a request of several), and the label.</summary>
/// <param name="Label">The true class (a string, number or boolean naming one of the model's classes) or value (a number, regression).</param>
public sealed record FeedbackItem(string RequestId, JsonElement Label, int Row = 0);

/// <summary>True labels for predictions an endpoint made and captured (capture must be on for the requests to be found).</summary>
public sealed record FeedbackRequest(IReadOnlyList<FeedbackItem> Items);

/// <summary>How many labels were stored (a label sent again replaces the earlier one).</summary>
public sealed record FeedbackResult(int Accepted);

/// <summary>The model's metrics on the labelled predictions of one time window (by when the requests were made).</summary>
public sealed record PerformanceWindow(DateTimeOffset From, DateTimeOffset To, long Labelled, IReadOnlyDictionary<string, double> Metrics);

/// <summary>Live performance of an endpoint's main model version from labelled feedback, window by window, beside its validation metrics.</summary>
public sealed record PerformanceReport(string Endpoint, ModelVersionRef Model, string Task, IReadOnlyDictionary<string, double> Baseline, IReadOnlyList<PerformanceWindow> Windows);

/// <summary>
/// What an endpoint's monitoring does by itself: on a schedule (and when asked), check drift and live performance;
/// when a trigger fires, alert, retrain on the latest version of the training data, and promote the challenger when it
/// beats the champion on the same holdout.
/// </summary>
/// <param name="Drift">Fires on drift: <c>STAT&gt;THRESHOLD</c> for any input column or the predictions, STAT one of
/// <c>psi</c>, <c>jensenshannon</c> (or <c>js</c>), <c>wasserstein</c> (normed), <c>ks</c> (statistic); <c>share&gt;X</c> for the
/// share of drifted columns; or <c>drift</c>, the drift check's own verdict.</param>
/// <param name="Metric">Fires on decay: <c>METRIC&lt;X</c> or <c>METRIC&gt;X</c> over the labelled predictions of the window (auc, accuracy, f1, r2, rmse, mae, log_loss...).</param>
/// <param name="Schedule">Cron, in UTC: five fields, or six with seconds first. None: only on demand.</param>
/// <param name="WindowMinutes">The window of requests each check reads (default: a day).</param>
/// <param name="Retrain"><c>train</c> (the champion's trainer) or <c>automl:120s</c>; none: alert only.</param>
/// <param name="Promote"><c>if-better</c> (the default) or <c>never</c> (train and compare, record, do not promote).</param>
/// <param name="Margin">How much better the challenger's score on the holdout must be (absolute; default 0.005).</param>
/// <param name="WithFeedback">Add the labelled feedback (captured inputs and true labels) to the training data.</param>
/// <param name="Alias">The alias moved to a promoted challenger (default <c>champion</c>).</param>
/// <param name="Canary">The promoted version's first share of traffic, percent (default 10); then <paramref name="Step"/> more every <paramref name="IntervalSeconds"/>.</param>
/// <param name="Webhooks">URLs told (POST, JSON) when a policy fires, a challenger is promoted or kept, or a retraining fails.</param>
/// <param name="Rules">Per-column drift rules for the policy's checks, instead of the defaults (as <see cref="DriftCheckRequest.Rules"/>).</param>
public sealed record MonitorPolicy(
    string? Drift = null,
    string? Metric = null,
    string? Schedule = null,
    double WindowMinutes = 1440,
    int MinRows = 30,
    string? Retrain = null,
    string Promote = "if-better",
    double Margin = 0.005,
    bool WithFeedback = false,
    string Alias = "champion",
    int Canary = 10,
    int Step = 10,
    int IntervalSeconds = 60,
    IReadOnlyList<string>? Webhooks = null,
    IReadOnlyDictionary<string, DriftRule>? Rules = null);

/// <summary>An endpoint's policy, and when it is next checked.</summary>
public sealed record MonitorPolicyInfo(string Endpoint, MonitorPolicy Policy, DateTimeOffset? NextCheckAt, DateTimeOffset? LastCheckAt, DateTimeOffset UpdatedAt);

/// <summary>A webhook call and how it went: the HTTP status, or why it was not made or failed.</summary>
public sealed record AlertDelivery(string Url, string Event, int? Status, string? Error, DateTimeOffset At);

/// <summary>
/// What a policy check decided, with its evidence. <paramref name="Status"/>: <c>ok</c> (nothing fired),
/// <c>insufficient_data</c> (too few requests or labels to judge), <c>fired</c> (alert only), <c>retraining</c>,
/// <c>promoted</c>, <c>kept</c> (the challenger was not better by the margin), <c>retrain_failed</c> or <c>error</c>.
/// </summary>
/// <param name="Reasons">Why, in words: each trigger's reading against its threshold, the comparison, what was done.</param>
/// <param name="Scores">The compared metric on the holdout: <c>champion</c> and <c>challenger</c>.</param>
public sealed record PolicyDecision(long Id, string Endpoint, string Trigger, string Status, IReadOnlyList<string> Reasons, ModelVersionRef Champion,
    ModelVersionRef? Challenger, long? DriftReportId, string? JobId, string? TrainingData, string? Holdout, string? Metric,
    IReadOnlyDictionary<string, double> Scores, long? RolloutId, IReadOnlyList<AlertDelivery> Alerts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>The body of a webhook call: what happened, to which endpoint, why, and the whole decision.</summary>
/// <param name="Event"><c>policy_fired</c>, <c>promoted</c>, <c>kept</c>, <c>retrain_failed</c> or <c>check_failed</c>.</param>
public sealed record WebhookEvent(string Event, string Endpoint, string Status, IReadOnlyList<string> Reasons, PolicyDecision Decision);

/// <summary>A column's distribution in the baseline and in the current window, as shares per bin, for plotting side by side.</summary>
/// <param name="Bins">Numbers: <c>Edges.Count - 1</c> equal-width bins between the edges; categories: the category names (the rarest grouped as "(other)").</param>
public sealed record DistributionPlot(string Column, string Kind, IReadOnlyList<string> Bins, IReadOnlyList<double>? Edges, IReadOnlyList<double> Baseline, IReadOnlyList<double> Current);

/// <summary>One drift check's reading of a column.</summary>
public sealed record DriftPoint(long ReportId, DateTimeOffset At, string Status, string Method, double? Score, double Threshold, double? Psi);

/// <summary>A column's drift over time: its latest status and since when it has been drifting without a break.</summary>
public sealed record FeatureDriftSeries(string Column, string Status, DateTimeOffset? DriftingSince, IReadOnlyList<DriftPoint> Points);

/// <summary>
/// An endpoint's monitoring at a glance, for <c>stratus monitor report</c> and the web console: which columns drift, by how
/// much and since when; distributions in the latest window against the baseline; live performance; the policy's decisions.
/// </summary>
public sealed record MonitoringReport(string Endpoint, ModelVersionRef Model, DateTimeOffset From, DateTimeOffset To, DriftReport? Latest,
    IReadOnlyList<FeatureDriftSeries> Features, IReadOnlyList<DistributionPlot> Distributions, PerformanceReport Performance, IReadOnlyList<PolicyDecision> Decisions,
    DateTimeOffset CreatedAt);

/// <summary>Job lifecycle states.</summary>
public static class JobStatus
{
    /// <summary>Waiting for a worker slot.</summary>
    public const string Queued = "QUEUED";

    /// <summary>On a worker slot.</summary>
    public const string Running = "RUNNING";

    /// <summary>Done; the result is set.</summary>
    public const string Succeeded = "SUCCEEDED";

    /// <summary>Stopped by an error; the error says why.</summary>
    public const string Failed = "FAILED";

    /// <summary>Stopped on request, or for running past its time limit.</summary>
    public const string Cancelled = "CANCELLED";

    /// <summary>True for a state a job ends in.</summary>
    public static bool IsTerminal(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>Trains a model on a dataset version as a job.</summary>
/// <param name="Dataset">Dataset reference, <c>NAME</c> or <c>NAME:VERSION</c>.</param>
/// <param name="Target">The column to predict.</param>
/// <param name="Task"><c>binary</c>, <c>multiclass</c> or <c>regression</c>; inferred from the target when omitted.</param>
/// <param name="Trainer"><c>lightgbm</c> (default), <c>fasttree</c>, <c>fastforest</c>, <c>sdca</c> or <c>lbfgs</c>.</param>
/// <param name="Register">Registers the model under this name when given.</param>
/// <param name="Experiment">Experiment of the run (default: the dataset's name).</param>
/// <param name="Seed">Seed for splits and trainers (default 42).</param>
/// <param name="Iterations">Trees or epochs (default 100).</param>
/// <param name="Folds">Cross-validation folds; 0 or omitted chooses by size.</param>
/// <param name="Exclude">Columns to leave out of the features.</param>
/// <param name="MaxRunSeconds">Time limit; the job is cancelled past it (default 3600).</param>
/// <param name="Retries">How many more times the job is tried after a failure that is not its input's fault (default 1).</param>
/// <param name="EarlyStoppingRounds">LightGBM: stop when the validation loss has not improved for this many iterations (default: never).</param>
public sealed record TrainRequest(
    string Dataset,
    string Target,
    string? Task = null,
    string? Trainer = null,
    string? Register = null,
    string? Experiment = null,
    int? Seed = null,
    int? Iterations = null,
    int? Folds = null,
    IReadOnlyList<string>? Exclude = null,
    int? MaxRunSeconds = null,
    int? Retries = null,
    int? EarlyStoppingRounds = null);

/// <summary>Searches for the best model within a time budget (AutoML) as a job.</summary>
/// <param name="Dataset">Dataset reference, <c>NAME</c> or <c>NAME:VERSION</c>.</param>
/// <param name="Target">The column to predict.</param>
/// <param name="BudgetSeconds">Wall-clock time for the whole search, the final model included (5 to 86400).</param>
/// <param name="Task"><c>binary</c>, <c>multiclass</c> or <c>regression</c>; inferred from the target when omitted.</param>
/// <param name="Metric">auc, pr_auc, accuracy, f1, log_loss (binary); accuracy, macro_accuracy, log_loss (multiclass); rmse, mae, r2 (regression). Default: auc, log_loss, r2.</param>
/// <param name="Register">Registers the best model under this name when given.</param>
/// <param name="Experiment">Experiment of the runs (default: the dataset's name).</param>
/// <param name="Seed">Seed for splits, trainers and the search (default 42).</param>
/// <param name="Folds">Cross-validation folds; 0 or omitted chooses by size and budget (a holdout from 20,000 rows, else 5 folds, or 3 when the budget is short for the data).</param>
/// <param name="Exclude">Columns to leave out of the features.</param>
/// <param name="Parallel">Trials at a time, at most (1 to 64); each takes a worker slot. Default: the slots free when the search starts.</param>
public sealed record AutoMlRequest(
    string Dataset,
    string Target,
    int BudgetSeconds,
    string? Task = null,
    string? Metric = null,
    string? Register = null,
    string? Experiment = null,
    int? Seed = null,
    int? Folds = null,
    IReadOnlyList<string>? Exclude = null,
    int? Parallel = null);

/// <summary>One AutoML trial, as the leaderboard shows it.</summary>
/// <param name="Status"><c>ok</c>, <c>pruned</c> (stopped after some folds: it could not win), <c>failed</c> or <c>timeout</c>.</param>
/// <param name="Score">The optimized metric on validation data.</param>
/// <param name="RunId">The trial's child run.</param>
public sealed record TrialInfo(int Number, string Trainer, string Status, double? Score, double Seconds, IReadOnlyDictionary<string, string> Parameters, string? RunId, string? Error = null);

/// <summary>A registered model version, by name and number.</summary>
public sealed record ModelVersionRef(string Name, int Version);

/// <summary>What a training job produced.</summary>
/// <param name="FeatureImportance">Permutation importance per input column (metric drop when shuffled), largest first.</param>
/// <param name="ConfusionMatrix">Classification: validation counts by actual and predicted class.</param>
/// <param name="Iterations">LightGBM: boosting iterations of the model; learning curves are the run's <c>train.*</c> and <c>valid.*</c> metrics.</param>
/// <param name="Trials">AutoML: how many configurations were tried.</param>
/// <param name="Metric">AutoML: the metric optimized.</param>
/// <param name="Leaderboard">AutoML: the best trials, best first (at most 10).</param>
public sealed record TrainResultInfo(
    string RunId,
    string Task,
    string Trainer,
    string Validation,
    IReadOnlyDictionary<string, double> Metrics,
    ModelVersionRef? Model,
    IReadOnlyDictionary<string, double>? FeatureImportance = null,
    ConfusionMatrixInfo? ConfusionMatrix = null,
    int? Iterations = null,
    int? Trials = null,
    string? Metric = null,
    IReadOnlyList<TrialInfo>? Leaderboard = null);

/// <summary>Validation counts of a classifier: <c>Counts[actual][predicted]</c>, both indexed like <see cref="Labels"/>.</summary>
public sealed record ConfusionMatrixInfo(IReadOnlyList<string> Labels, IReadOnlyList<IReadOnlyList<long>> Counts);

/// <summary>A job: queued, running or ended, with its outcome.</summary>
public sealed record JobInfo(
    string Id,
    string Kind,
    string Status,
    string? RunId,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    string? Error,
    TrainResultInfo? Result,
    BatchResultInfo? Batch = null);

/// <summary>Scores a whole dataset version with a model as a job; the predictions become a new dataset version.</summary>
/// <param name="Model">MODEL:VERSION, MODEL@ALIAS or MODEL (latest).</param>
/// <param name="Dataset">NAME:VERSION or NAME (latest).</param>
/// <param name="Output">The dataset the scored rows are stored in, as its next version (default: DATASET-predictions).</param>
/// <param name="MaxRunSeconds">Hard time limit (default 3600).</param>
/// <param name="Retries">Attempts after a crash of the server or the job (default 1); an attempt resumes from the chunks already scored.</param>
public sealed record BatchRequest(string Model, string Dataset, string? Output = null, int? MaxRunSeconds = null, int? Retries = null);

/// <summary>What a batch inference job produced: the input's rows with the model's predictions, as a dataset version.</summary>
/// <param name="RunId">The tracked run (its inputs: the dataset version; its parameters: the model), the output's lineage.</param>
/// <param name="Model">The model version that scored.</param>
/// <param name="Dataset">The dataset version scored, NAME:VERSION.</param>
/// <param name="Output">The dataset version written, NAME:VERSION.</param>
/// <param name="Rows">Rows scored.</param>
/// <param name="Columns">The prediction columns added to the input's.</param>
public sealed record BatchResultInfo(string RunId, ModelVersionRef Model, string Dataset, string Output, long Rows, IReadOnlyList<string> Columns);

/// <summary>A line of a job's log.</summary>
public sealed record JobLogLine(long Seq, DateTimeOffset Time, string Line);

/// <summary>A real-time endpoint serving one or more model versions.</summary>
/// <param name="Name">Endpoint name; the predict URL is <c>/api/v1/endpoints/{name}/predict</c>.</param>
/// <param name="ModelRef">The reference its main version (the largest share of the traffic) was deployed with, e.g. <c>fraud@champion</c>.</param>
/// <param name="Model">Its main version.</param>
/// <param name="Traffic">Every version that answers requests, with its share of them (percent; they sum to 100).</param>
/// <param name="Shadow">A version that scores a copy of every request; its predictions are recorded, never returned.</param>
/// <param name="Limits">How many requests it scores at once and how many may wait; more get 429.</param>
/// <param name="Batching">Whether concurrent requests are grouped into one model call, and how.</param>
/// <param name="Capture">Which share of the answered requests is recorded for monitoring.</param>
public sealed record EndpointInfo(string Name, string ModelRef, ModelVersionRef Model, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    IReadOnlyList<TrafficShare> Traffic, TrafficShare? Shadow, EndpointLimits Limits, EndpointBatching Batching, EndpointCapture Capture, EndpointScaling Scaling,
    int Replicas);

/// <summary>
/// How many replicas serve an endpoint on each server: one per model call in flight, from <paramref name="MinReplicas"/>
/// up to <paramref name="MaxReplicas"/>; a replica not needed for <paramref name="IdleSeconds"/> stops. With a minimum
/// of 0 the endpoint frees its models' memory when idle and wakes on the next request (a cold start).
/// </summary>
/// <param name="MinReplicas">Replicas kept running even when idle (0 to 256); 0 lets the endpoint scale to zero.</param>
/// <param name="MaxReplicas">The most replicas, and so model calls at once (1 to 256, at least the minimum).</param>
/// <param name="IdleSeconds">How long a replica may go unneeded before it stops (1 to 86,400).</param>
public sealed record EndpointScaling(int MinReplicas, int MaxReplicas, int IdleSeconds = 300);

/// <summary>Request capture: a share of the answered requests, each row with its inputs and prediction, recorded for monitoring off the request path.</summary>
/// <param name="SampleRate">The share of requests recorded, 0 (off) to 1 (all).</param>
public sealed record EndpointCapture(double SampleRate);

/// <summary>One captured row: when, which request and model version, the inputs sent and the prediction returned.</summary>
public sealed record CapturedRow(DateTimeOffset Time, string RequestId, int Row, ModelVersionRef Model, IReadOnlyDictionary<string, JsonElement> Inputs, Prediction Prediction);

/// <summary>
/// Adaptive micro-batching: concurrent requests to the same model version are scored in one call. A request waits for
/// company only while requests arrive faster than a batch takes to score, and never longer than <paramref name="MaxDelayMs"/>.
/// With batching on, the concurrency limit counts model calls: up to max_concurrency x max_batch_rows requests are admitted.
/// </summary>
/// <param name="Enabled">Whether requests are batched.</param>
/// <param name="MaxBatchRows">The most rows one model call scores (2 to 10,000).</param>
/// <param name="MaxDelayMs">The most a request waits for others to join its batch, in milliseconds (0 to 1,000).</param>
public sealed record EndpointBatching(bool Enabled, int MaxBatchRows = 64, double MaxDelayMs = 5);

/// <summary>An endpoint's protection against overload: requests beyond both get 429 with Retry-After, so admitted requests keep their latency.</summary>
/// <param name="MaxConcurrency">Requests scored at the same time (1 to 1024).</param>
/// <param name="MaxQueue">Requests waiting for a turn, oldest first (0 to 100,000).</param>
/// <param name="TimeoutMs">
/// The longest a request may take, in milliseconds (1 to 600,000), or null for no limit: one still waiting for a turn
/// then gets 503 with Retry-After, one whose model call runs past it 504 (the call finishes in the background,
/// holding its turn, and counts as an error of its version).
/// </param>
/// <param name="StrictCategories">
/// Refuse (400, naming the field) a request carrying a category its model never saw in training. By default such a
/// value scores as unseen (every indicator off) and counts in monitoring's new-category rate: production data always
/// brings new values.
/// </param>
public sealed record EndpointLimits(int MaxConcurrency, int MaxQueue, int? TimeoutMs = null, bool StrictCategories = false);

/// <summary>A model version behind an endpoint and its share of the requests, in percent (0 for a shadow).</summary>
public sealed record TrafficShare(ModelVersionRef Model, string ModelRef, int Weight);

/// <summary>Deploys (or switches) an endpoint to a model reference: it then takes all the traffic.</summary>
public sealed record DeployRequest(string Model);

/// <summary>Splits an endpoint's requests between model versions (weights in percent, summing to 100), optionally with a shadow version that scores a copy of every request.</summary>
public sealed record TrafficRequest(IReadOnlyList<TrafficSplit> Versions, string? Shadow = null);

/// <summary>A model reference (NAME:VERSION, NAME@ALIAS or NAME) and its share of the requests, in percent.</summary>
public sealed record TrafficSplit(string Model, int Weight);

/// <summary>Starts a gradual rollout of a new model version on an endpoint that serves one version.</summary>
/// <param name="Model">The new version: NAME:VERSION, NAME@ALIAS or NAME.</param>
/// <param name="Canary">Its first share of the traffic, in percent (1 to 99).</param>
/// <param name="Step">Percent added after each healthy interval (1 to 100).</param>
/// <param name="IntervalSeconds">Time between steps.</param>
/// <param name="MaxErrorRate">Roll back when the new version fails this share of its requests more than the old version fails of its own (0.01: one point).</param>
/// <param name="MaxP99Ms">Roll back when the new version's p99 latency over an interval passes this, in milliseconds; null: no limit.</param>
/// <param name="MinRequests">Requests the new version must answer in an interval before it is judged; with fewer, the step waits.</param>
public sealed record RolloutRequest(string Model, int Canary = 10, int Step = 10, int IntervalSeconds = 60, double MaxErrorRate = 0.01, double? MaxP99Ms = null,
    int MinRequests = 20);

/// <summary>A rollout: from which version to which, how far it got, and how it ended.</summary>
/// <param name="Weight">The new version's share of the traffic now, in percent.</param>
/// <param name="Status"><c>running</c>, <c>completed</c>, <c>rolled_back</c> (with the evidence in <see cref="Reason"/>), <c>aborted</c> or <c>superseded</c> (the traffic was changed by hand).</param>
public sealed record RolloutInfo(long Id, string Endpoint, ModelVersionRef From, ModelVersionRef To, int Weight, string Status, string? Reason,
    RolloutRequest Settings, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A request that the shadow version scored beside the live one.</summary>
/// <param name="Disagreements">Rows where the shadow's label (or, for regression, its value within 1%) differs from the live answer.</param>
/// <param name="Error">Why the shadow failed on the request, when it did.</param>
public sealed record ShadowRecord(string RequestId, DateTimeOffset Time, ModelVersionRef Live, ModelVersionRef Shadow, int Rows, int Disagreements,
    double Milliseconds, string? Error);

/// <summary>About a second of an endpoint's traffic on one server, ending at <paramref name="Time"/>.</summary>
/// <param name="Seconds">How long the sample covers (about 1).</param>
/// <param name="Requests">Requests answered in it (all outcomes).</param>
/// <param name="Errors">Requests the model failed on.</param>
/// <param name="Rejected">Requests refused as not fitting the signature (4xx).</param>
/// <param name="P50Ms">Median latency, in milliseconds, as the upper bound of its histogram bucket; null without requests.</param>
public sealed record TrafficPoint(DateTimeOffset Time, double Seconds, long Requests, long Errors, long Rejected, double? P50Ms, double? P95Ms, double? P99Ms);

/// <summary>A node of the deployment (a server or a worker) as it last reported itself, about once a second.</summary>
/// <param name="Id"><c>host/pid</c>; a restarted node is a new one.</param>
/// <param name="Role"><c>server</c> (answers the API and every endpoint, holds an Orleans silo) or <c>worker</c> (runs jobs only).</param>
/// <param name="Status"><c>up</c>; <c>lost</c> when it stopped reporting (it died, or cannot reach the database); <c>stopped</c> after a clean shutdown.</param>
/// <param name="Url">The API's address (servers).</param>
/// <param name="Silo">The Orleans silo's address (servers).</param>
/// <param name="Slots">Jobs it may run at once (0: it runs none).</param>
/// <param name="CpuPercent">CPU of the node and its job processes over its last report interval, in percent of one core.</param>
/// <param name="MemoryBytes">Resident memory of the node and its job processes.</param>
public sealed record NodeInfo(string Id, string Role, string Status, string Host, string? Url, string? Silo, string Version, DateTimeOffset StartedAt,
    DateTimeOffset SeenAt, int Slots, int JobsRunning, int EndpointsLoaded, double CpuPercent, long MemoryBytes);

/// <summary>Rows to score, as objects keyed by input column.</summary>
public sealed record PredictRequest(IReadOnlyList<Dictionary<string, JsonElement>> Instances);

/// <summary>Predictions in request order, with the model version that made them.</summary>
public sealed record PredictResponse(IReadOnlyList<Prediction> Predictions, ModelVersionRef Model, string RequestId);

/// <summary>The JSON settings every Stratus component uses: snake_case names, nulls omitted.</summary>
public static class StratusJson
{
    /// <summary>Options for reflection-free serialization of the wire contract.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(StratusJsonContext.Default.Options);
        options.MakeReadOnly();
        return options;
    }
}

/// <summary>Source-generated serializers for the wire contract.</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(Page<DatasetInfo>))]
[JsonSerializable(typeof(Page<DatasetVersionInfo>))]
[JsonSerializable(typeof(DatasetVersionInfo))]
[JsonSerializable(typeof(IReadOnlyList<ColumnProfile>))]
[JsonSerializable(typeof(ColumnProfile))]
[JsonSerializable(typeof(Page<ExperimentInfo>))]
[JsonSerializable(typeof(CreateExperimentRequest))]
[JsonSerializable(typeof(Page<RunInfo>))]
[JsonSerializable(typeof(CreateRunRequest))]
[JsonSerializable(typeof(UpdateRunRequest))]
[JsonSerializable(typeof(LogParamsRequest))]
[JsonSerializable(typeof(LogMetricsRequest))]
[JsonSerializable(typeof(LogInputsRequest))]
[JsonSerializable(typeof(IReadOnlyList<MetricPoint>))]
[JsonSerializable(typeof(IReadOnlyList<ArtifactInfo>))]
[JsonSerializable(typeof(Page<RegisteredModelInfo>))]
[JsonSerializable(typeof(CreateModelRequest))]
[JsonSerializable(typeof(UpdateModelRequest))]
[JsonSerializable(typeof(Page<ModelVersionInfo>))]
[JsonSerializable(typeof(ModelVersionInfo))]
[JsonSerializable(typeof(CreateModelVersionRequest))]
[JsonSerializable(typeof(SetAliasRequest))]
[JsonSerializable(typeof(IReadOnlyList<AliasChange>))]
[JsonSerializable(typeof(IReadOnlyList<TrafficPoint>))]
[JsonSerializable(typeof(IReadOnlyList<NodeInfo>))]
[JsonSerializable(typeof(Page<TokenInfo>))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(CreatedToken))]
[JsonSerializable(typeof(Page<AuditEntry>))]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(AuditVerification))]
[JsonSerializable(typeof(GcResult))]
[JsonSerializable(typeof(KeyRotation))]
[JsonSerializable(typeof(SecretInfo))]
[JsonSerializable(typeof(UserInfo))]
[JsonSerializable(typeof(IReadOnlyList<UserInfo>))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(ProjectInfo))]
[JsonSerializable(typeof(IReadOnlyList<ProjectInfo>))]
[JsonSerializable(typeof(CreateProjectRequest))]
[JsonSerializable(typeof(ProjectMemberInfo))]
[JsonSerializable(typeof(IReadOnlyList<ProjectMemberInfo>))]
[JsonSerializable(typeof(SetMemberRequest))]
[JsonSerializable(typeof(GrantRequest))]
[JsonSerializable(typeof(GrantInfo))]
[JsonSerializable(typeof(IReadOnlyList<GrantInfo>))]
[JsonSerializable(typeof(IReadOnlyList<SecretInfo>))]
[JsonSerializable(typeof(SetSecretRequest))]
[JsonSerializable(typeof(IReadOnlyList<KeyStatus>))]
[JsonSerializable(typeof(RegisteredModelInfo))]
[JsonSerializable(typeof(ExperimentInfo))]
[JsonSerializable(typeof(RunInfo))]
[JsonSerializable(typeof(ArtifactInfo))]
[JsonSerializable(typeof(TokenInfo))]
[JsonSerializable(typeof(DatasetInfo))]
[JsonSerializable(typeof(WhoAmI))]
[JsonSerializable(typeof(ModelManifest))]
[JsonSerializable(typeof(TrainRequest))]
[JsonSerializable(typeof(BatchRequest))]
[JsonSerializable(typeof(BatchResultInfo))]
[JsonSerializable(typeof(JobInfo))]
[JsonSerializable(typeof(Page<JobInfo>))]
[JsonSerializable(typeof(IReadOnlyList<JobLogLine>))]
[JsonSerializable(typeof(TrainResultInfo))]
[JsonSerializable(typeof(ConfusionMatrixInfo))]
[JsonSerializable(typeof(AutoMlRequest))]
[JsonSerializable(typeof(IReadOnlyList<TrialInfo>))]
[JsonSerializable(typeof(EndpointInfo))]
[JsonSerializable(typeof(Page<EndpointInfo>))]
[JsonSerializable(typeof(DeployRequest))]
[JsonSerializable(typeof(TrafficRequest))]
[JsonSerializable(typeof(EndpointLimits))]
[JsonSerializable(typeof(EndpointBatching))]
[JsonSerializable(typeof(EndpointCapture))]
[JsonSerializable(typeof(EndpointScaling))]
[JsonSerializable(typeof(CapturedRow))]
[JsonSerializable(typeof(ModelBaseline))]
[JsonSerializable(typeof(FeedbackRequest))]
[JsonSerializable(typeof(FeedbackResult))]
[JsonSerializable(typeof(PerformanceReport))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, JsonElement>))]
[JsonSerializable(typeof(MonitorPolicy))]
[JsonSerializable(typeof(DatasetPreview))]
[JsonSerializable(typeof(SetBaselineRequest))]
[JsonSerializable(typeof(MonitoringReport))]
[JsonSerializable(typeof(WebhookEvent))]
[JsonSerializable(typeof(MonitorPolicyInfo))]
[JsonSerializable(typeof(PolicyDecision))]
[JsonSerializable(typeof(IReadOnlyList<PolicyDecision>))]
[JsonSerializable(typeof(IReadOnlyList<AlertDelivery>))]
[JsonSerializable(typeof(DriftCheckRequest))]
[JsonSerializable(typeof(DriftReport))]
[JsonSerializable(typeof(IReadOnlyList<DriftReport>))]
[JsonSerializable(typeof(IReadOnlyList<CapturedRow>))]
[JsonSerializable(typeof(RolloutRequest))]
[JsonSerializable(typeof(RolloutInfo))]
[JsonSerializable(typeof(IReadOnlyList<ShadowRecord>))]
[JsonSerializable(typeof(PredictRequest))]
[JsonSerializable(typeof(OnnxSignature))]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, double>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
[JsonSerializable(typeof(IReadOnlyList<Prediction>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class StratusJsonContext : JsonSerializerContext;
