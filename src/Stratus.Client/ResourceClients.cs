using System.Globalization;
using System.Net.Http.Headers;

namespace Stratus.Client;

/// <summary>Dataset operations.</summary>
public sealed class DatasetsClient(StratusClient client)
{
    /// <summary>Uploads a CSV or Parquet file (by extension, unless <paramref name="format"/> says) as a new version of <paramref name="name"/>, streaming it.</summary>
    /// <param name="progress">Receives the number of bytes sent so far.</param>
    public async Task<DatasetVersionInfo> UploadAsync(string name, string file, string? format = null, char delimiter = ',', IProgress<long>? progress = null, CancellationToken ct = default)
    {
        format ??= file.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? "parquet" : "csv";
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return await UploadAsync(name, stream, format, delimiter, progress, ct);
    }

    /// <summary>Uploads a stream as a new version of <paramref name="name"/>.</summary>
    public Task<DatasetVersionInfo> UploadAsync(string name, Stream content, string format = "csv", char delimiter = ',', IProgress<long>? progress = null, CancellationToken ct = default)
    {
        var body = new StreamContent(progress is null ? content : new ProgressStream(content, progress), 1 << 16);
        body.Headers.ContentType = new MediaTypeHeaderValue(format == "parquet" ? "application/vnd.apache.parquet" : "text/csv");
        var path = StratusClient.Query($"api/v1/datasets/{StratusClient.Segment(name)}/versions", ("format", format), ("delimiter", delimiter == ',' ? null : delimiter == '\t' ? "tab" : delimiter.ToString()));
        return client.SendAsync(HttpMethod.Post, path, body, StratusJsonContext.Default.DatasetVersionInfo, ct);
    }

    /// <summary>Lists datasets.</summary>
    public Task<Page<DatasetInfo>> ListAsync(int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/datasets", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageDatasetInfo, ct);

    /// <summary>Lists a dataset's versions, newest first.</summary>
    public Task<Page<DatasetVersionInfo>> ListVersionsAsync(string name, int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/datasets/{StratusClient.Segment(name)}/versions", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageDatasetVersionInfo, ct);

    /// <summary>Shows a version: <c>NAME</c> (latest) or <c>NAME:VERSION</c>.</summary>
    public Task<DatasetVersionInfo> GetAsync(string reference, CancellationToken ct = default) =>
        client.GetAsync(VersionPath(reference), StratusJsonContext.Default.DatasetVersionInfo, ct);

    /// <summary>The column profile of a version.</summary>
    public Task<IReadOnlyList<ColumnProfile>> GetProfileAsync(string reference, CancellationToken ct = default) =>
        client.GetAsync(VersionPath(reference) + "/profile", StratusJsonContext.Default.IReadOnlyListColumnProfile, ct);

    /// <summary>The first rows of a version (1 to 1,000), values as text.</summary>
    public Task<DatasetPreview> PreviewAsync(string reference, int? limit = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query(VersionPath(reference) + "/preview", ("limit", limit?.ToString(CultureInfo.InvariantCulture))), StratusJsonContext.Default.DatasetPreview, ct);

    /// <summary>Downloads a version as Parquet or CSV to <paramref name="destination"/>; returns the SHA-256 of the bytes written.</summary>
    public Task<string?> DownloadAsync(string reference, string destination, string format = "parquet", IProgress<long>? progress = null, CancellationToken ct = default) =>
        client.DownloadAsync(StratusClient.Query(VersionPath(reference) + "/content", ("format", format)), destination, progress, ct);

    /// <summary>Soft-deletes a version (<c>NAME:VERSION</c>), or the whole dataset (<c>NAME</c>).</summary>
    public Task DeleteAsync(string reference, CancellationToken ct = default)
    {
        var r = Parse(reference);
        var path = r.Version is null ? $"api/v1/datasets/{StratusClient.Segment(r.Name)}" : VersionPath(reference);
        return client.SendAsync(HttpMethod.Delete, path, null, ct);
    }

    private static string VersionPath(string reference)
    {
        var r = Parse(reference);
        return $"api/v1/datasets/{StratusClient.Segment(r.Name)}/versions/{(r.Version?.ToString(CultureInfo.InvariantCulture) ?? "latest")}";
    }

    private static DatasetRef Parse(string reference) =>
        DatasetRef.TryParse(reference, out var r, out var error) ? r : throw new ArgumentException(error, nameof(reference));

    private sealed class ProgressStream(Stream inner, IProgress<long> progress) : Stream
    {
        private long _sent;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => _sent; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Report(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Report(await inner.ReadAsync(buffer, cancellationToken));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Report(int read)
        {
            _sent += read;
            progress.Report(_sent);
            return read;
        }
    }
}

/// <summary>Experiment operations.</summary>
public sealed class ExperimentsClient(StratusClient client)
{
    /// <summary>Creates an experiment.</summary>
    public Task<ExperimentInfo> CreateAsync(CreateExperimentRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/experiments", StratusClient.Json(request, StratusJsonContext.Default.CreateExperimentRequest), StratusJsonContext.Default.ExperimentInfo, ct);

    /// <summary>Lists experiments.</summary>
    public Task<Page<ExperimentInfo>> ListAsync(int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/experiments", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageExperimentInfo, ct);

    /// <summary>Shows an experiment by id or name.</summary>
    public Task<ExperimentInfo> GetAsync(string idOrName, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/experiments/{StratusClient.Segment(idOrName)}", StratusJsonContext.Default.ExperimentInfo, ct);
}

/// <summary>Run operations.</summary>
public sealed class RunsClient(StratusClient client)
{
    /// <summary>Starts a run.</summary>
    public Task<RunInfo> CreateAsync(CreateRunRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/runs", StratusClient.Json(request, StratusJsonContext.Default.CreateRunRequest), StratusJsonContext.Default.RunInfo, ct);

    /// <summary>Shows a run.</summary>
    public Task<RunInfo> GetAsync(string id, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/runs/{StratusClient.Segment(id)}", StratusJsonContext.Default.RunInfo, ct);

    /// <summary>Lists runs, newest first.</summary>
    public Task<Page<RunInfo>> ListAsync(string? experiment = null, string? status = null, int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/runs", ("experiment", experiment), ("status", status), ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageRunInfo, ct);

    /// <summary>Ends a run.</summary>
    public Task<RunInfo> EndAsync(string id, string status = RunStatus.Finished, string? failureReason = null, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Patch, $"api/v1/runs/{StratusClient.Segment(id)}", StratusClient.Json(new UpdateRunRequest(status, failureReason), StratusJsonContext.Default.UpdateRunRequest), StratusJsonContext.Default.RunInfo, ct);

    /// <summary>Sends a heartbeat.</summary>
    public Task HeartbeatAsync(string id, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/runs/{StratusClient.Segment(id)}/heartbeat", null, ct);

    /// <summary>Logs params (write-once) and tags.</summary>
    public Task<RunInfo> LogParamsAsync(string id, IReadOnlyDictionary<string, string>? @params = null, IReadOnlyDictionary<string, string>? tags = null, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/runs/{StratusClient.Segment(id)}/params", StratusClient.Json(new LogParamsRequest(@params, tags), StratusJsonContext.Default.LogParamsRequest), StratusJsonContext.Default.RunInfo, ct);

    /// <summary>Logs a batch of metric points.</summary>
    public Task LogMetricsAsync(string id, IReadOnlyList<MetricPoint> points, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/runs/{StratusClient.Segment(id)}/metrics", StratusClient.Json(new LogMetricsRequest(points), StratusJsonContext.Default.LogMetricsRequest), ct);

    /// <summary>Reads metric history.</summary>
    public Task<IReadOnlyList<MetricPoint>> GetMetricsAsync(string id, string? key = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/runs/{StratusClient.Segment(id)}/metrics", ("key", key)), StratusJsonContext.Default.IReadOnlyListMetricPoint, ct);

    /// <summary>Records dataset versions the run read.</summary>
    public Task<RunInfo> LogInputsAsync(string id, IReadOnlyList<string> datasets, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/runs/{StratusClient.Segment(id)}/inputs", StratusClient.Json(new LogInputsRequest(datasets), StratusJsonContext.Default.LogInputsRequest), StratusJsonContext.Default.RunInfo, ct);

    /// <summary>Uploads an artifact.</summary>
    public Task<ArtifactInfo> LogArtifactAsync(string id, string path, Stream content, CancellationToken ct = default)
    {
        var body = new StreamContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return client.SendAsync(HttpMethod.Put, $"api/v1/runs/{StratusClient.Segment(id)}/artifacts/{EscapePath(path)}", body, StratusJsonContext.Default.ArtifactInfo, ct);
    }

    /// <summary>Lists artifacts.</summary>
    public Task<IReadOnlyList<ArtifactInfo>> ListArtifactsAsync(string id, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/runs/{StratusClient.Segment(id)}/artifacts", StratusJsonContext.Default.IReadOnlyListArtifactInfo, ct);

    /// <summary>Downloads an artifact, verifying its hash.</summary>
    public Task<string?> DownloadArtifactAsync(string id, string path, string destination, CancellationToken ct = default) =>
        client.DownloadAsync($"api/v1/runs/{StratusClient.Segment(id)}/artifacts/{EscapePath(path)}", destination, null, ct);

    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));
}

/// <summary>Model registry operations.</summary>
public sealed class ModelsClient(StratusClient client)
{
    /// <summary>Registers a model name.</summary>
    public Task<RegisteredModelInfo> CreateAsync(CreateModelRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/models", StratusClient.Json(request, StratusJsonContext.Default.CreateModelRequest), StratusJsonContext.Default.RegisteredModelInfo, ct);

    /// <summary>Lists registered models.</summary>
    public Task<Page<RegisteredModelInfo>> ListAsync(int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/models", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageRegisteredModelInfo, ct);

    /// <summary>Shows a registered model.</summary>
    public Task<RegisteredModelInfo> GetAsync(string name, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/models/{StratusClient.Segment(name)}", StratusJsonContext.Default.RegisteredModelInfo, ct);

    /// <summary>Changes description or tags.</summary>
    public Task<RegisteredModelInfo> UpdateAsync(string name, UpdateModelRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Patch, $"api/v1/models/{StratusClient.Segment(name)}", StratusClient.Json(request, StratusJsonContext.Default.UpdateModelRequest), StratusJsonContext.Default.RegisteredModelInfo, ct);

    /// <summary>Creates a version from a run's artifact.</summary>
    public Task<ModelVersionInfo> CreateVersionAsync(string name, CreateModelVersionRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/models/{StratusClient.Segment(name)}/versions", StratusClient.Json(request, StratusJsonContext.Default.CreateModelVersionRequest), StratusJsonContext.Default.ModelVersionInfo, ct);

    /// <summary>
    /// Imports an ONNX model (exported from PyTorch, scikit-learn, TensorFlow, ...) as the next version of
    /// <paramref name="name"/>; what <paramref name="signature"/> leaves out is read off the model. A model that cannot
    /// be served is refused at once, naming the field at fault.
    /// </summary>
    public async Task<ModelVersionInfo> ImportAsync(string name, Stream onnx, string fileName, OnnxSignature? signature = null, string? description = null, CancellationToken ct = default)
    {
        using var form = new MultipartFormDataContent();
        var file = new StreamContent(onnx);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "model", fileName);
        if (signature is not null) form.Add(new StringContent(System.Text.Json.JsonSerializer.Serialize(signature, StratusJsonContext.Default.OnnxSignature), System.Text.Encoding.UTF8, new MediaTypeHeaderValue("application/json")), "signature");
        if (description is not null) form.Add(new StringContent(description), "description");
        return await client.SendAsync(HttpMethod.Post, $"api/v1/models/{StratusClient.Segment(name)}/import", form, StratusJsonContext.Default.ModelVersionInfo, ct);
    }

    /// <summary>Imports an ONNX model file; see <see cref="ImportAsync(string, Stream, string, OnnxSignature?, string?, CancellationToken)"/>.</summary>
    public async Task<ModelVersionInfo> ImportAsync(string name, string onnxFile, OnnxSignature? signature = null, string? description = null, CancellationToken ct = default)
    {
        await using var file = File.OpenRead(onnxFile);
        return await ImportAsync(name, file, Path.GetFileName(onnxFile), signature, description, ct);
    }

    /// <summary>Lists versions, newest first.</summary>
    public Task<Page<ModelVersionInfo>> ListVersionsAsync(string name, int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/models/{StratusClient.Segment(name)}/versions", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageModelVersionInfo, ct);

    /// <summary>Resolves <c>NAME</c>, <c>NAME:VERSION</c> or <c>NAME@ALIAS</c>.</summary>
    public Task<ModelVersionInfo> ResolveAsync(string reference, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/models/resolve", ("ref", reference)), StratusJsonContext.Default.ModelVersionInfo, ct);

    /// <summary>Points an alias at a version.</summary>
    public Task<ModelVersionInfo> SetAliasAsync(string name, string alias, int version, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/models/{StratusClient.Segment(name)}/aliases/{StratusClient.Segment(alias)}", StratusClient.Json(new SetAliasRequest(version), StratusJsonContext.Default.SetAliasRequest), StratusJsonContext.Default.ModelVersionInfo, ct);

    /// <summary>Removes an alias.</summary>
    public Task DeleteAliasAsync(string name, string alias, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Delete, $"api/v1/models/{StratusClient.Segment(name)}/aliases/{StratusClient.Segment(alias)}", null, ct);

    /// <summary>Points an alias back at the version it pointed to before its current one.</summary>
    public Task<ModelVersionInfo> RollBackAliasAsync(string name, string alias, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/models/{StratusClient.Segment(name)}/aliases/{StratusClient.Segment(alias)}/rollback", null, StratusJsonContext.Default.ModelVersionInfo, ct);

    /// <summary>Every move of the model's aliases, newest first.</summary>
    public Task<IReadOnlyList<AliasChange>> AliasHistoryAsync(string name, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Get, $"api/v1/models/{StratusClient.Segment(name)}/aliases", null, StratusJsonContext.Default.IReadOnlyListAliasChange, ct);

    /// <summary>Downloads a version's artifact, verifying its hash.</summary>
    public async Task<string?> DownloadAsync(string reference, string destination, CancellationToken ct = default)
    {
        var version = await ResolveAsync(reference, ct);
        return await client.DownloadAsync($"api/v1/models/{StratusClient.Segment(version.Name)}/versions/{version.Version}/content", destination, null, ct);
    }
}

/// <summary>Token operations (admin role).</summary>
public sealed class TokensClient(StratusClient client)
{
    /// <summary>Creates a token that expires after <paramref name="expiresInDays"/> (default: the server's); the secret is in the answer only.</summary>
    public Task<CreatedToken> CreateAsync(string name, string role, int? expiresInDays = null, CancellationToken ct = default) =>
        CreateAsync(new CreateTokenRequest(name, role, expiresInDays), ct);

    /// <summary>Creates a token as the request says (an <c>invoke</c> token names its endpoints); the secret is in the answer only.</summary>
    public Task<CreatedToken> CreateAsync(CreateTokenRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/tokens", StratusClient.Json(request, StratusJsonContext.Default.CreateTokenRequest), StratusJsonContext.Default.CreatedToken, ct);

    /// <summary>Gives a token a new secret (in the answer only); the old one works until it would have expired.</summary>
    public Task<CreatedToken> RotateAsync(long id, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/tokens/{id}/rotate", null, StratusJsonContext.Default.CreatedToken, ct);

    /// <summary>Lists tokens.</summary>
    public Task<Page<TokenInfo>> ListAsync(int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/tokens", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageTokenInfo, ct);

    /// <summary>Revokes a token.</summary>
    public Task<TokenInfo> RevokeAsync(long id, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Delete, $"api/v1/tokens/{id}", null, StratusJsonContext.Default.TokenInfo, ct);
}

/// <summary>Training and other jobs.</summary>
public sealed class JobsClient(StratusClient client)
{
    /// <summary>Queues a training job; a request that does not fit the dataset is refused at once.</summary>
    public Task<JobInfo> TrainAsync(TrainRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/train", StratusClient.Json(request, StratusJsonContext.Default.TrainRequest), StratusJsonContext.Default.JobInfo, ct);

    /// <summary>Queues a batch inference job; its result names the dataset version holding the predictions.</summary>
    public Task<JobInfo> BatchAsync(BatchRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/batch", StratusClient.Json(request, StratusJsonContext.Default.BatchRequest), StratusJsonContext.Default.JobInfo, ct);

    /// <summary>Queues an AutoML search; its result has the trials count and the leaderboard besides what training returns.</summary>
    public Task<JobInfo> AutoMlAsync(AutoMlRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, "api/v1/automl", StratusClient.Json(request, StratusJsonContext.Default.AutoMlRequest), StratusJsonContext.Default.JobInfo, ct);

    /// <summary>Shows a job.</summary>
    public Task<JobInfo> GetAsync(string id, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/jobs/{StratusClient.Segment(id)}", StratusJsonContext.Default.JobInfo, ct);

    /// <summary>Lists jobs, newest first.</summary>
    public Task<Page<JobInfo>> ListAsync(string? status = null, int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/jobs", ("status", status), ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageJobInfo, ct);

    /// <summary>Log lines after sequence number <paramref name="after"/>.</summary>
    public Task<IReadOnlyList<JobLogLine>> LogAsync(string id, long after = 0, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/jobs/{StratusClient.Segment(id)}/log?after={after}", StratusJsonContext.Default.IReadOnlyListJobLogLine, ct);

    /// <summary>Cancels a job.</summary>
    public Task<JobInfo> CancelAsync(string id, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/jobs/{StratusClient.Segment(id)}/cancel", null, StratusJsonContext.Default.JobInfo, ct);

    /// <summary>Follows a job until it ends, passing each new log line to <paramref name="onLog"/>.</summary>
    public async Task<JobInfo> WaitAsync(string id, Action<JobLogLine>? onLog = null, TimeSpan? poll = null, CancellationToken ct = default)
    {
        long seen = 0;
        while (true)
        {
            foreach (var line in await LogAsync(id, seen, ct))
            {
                onLog?.Invoke(line);
                seen = line.Seq;
            }
            var job = await GetAsync(id, ct);
            if (JobStatus.IsTerminal(job.Status))
            {
                foreach (var line in await LogAsync(id, seen, ct)) onLog?.Invoke(line);
                return job;
            }
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(250), ct);
        }
    }
}

/// <summary>Real-time endpoints.</summary>
public sealed class EndpointsClient(StratusClient client)
{
    /// <summary>Deploys or switches an endpoint to a model reference (NAME:VERSION, NAME@ALIAS or NAME).</summary>
    public Task<EndpointInfo> DeployAsync(string name, string model, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(name)}", StratusClient.Json(new DeployRequest(model), StratusJsonContext.Default.DeployRequest), StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>The endpoint's traffic second by second over the last 5 minutes, on the server that answers.</summary>
    public Task<IReadOnlyList<TrafficPoint>> TrafficAsync(string name, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Get, $"api/v1/endpoints/{StratusClient.Segment(name)}/traffic", null, StratusJsonContext.Default.IReadOnlyListTrafficPoint, ct);

    /// <summary>Splits an endpoint's requests between model versions (weights in percent summing to 100), with an optional shadow version.</summary>
    public Task<EndpointInfo> SetTrafficAsync(string name, TrafficRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(name)}/traffic", StratusClient.Json(request, StratusJsonContext.Default.TrafficRequest), StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>Sets how many requests the endpoint scores at once and how many may wait (more get 429).</summary>
    public Task<EndpointInfo> SetLimitsAsync(string name, EndpointLimits limits, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(name)}/limits", StratusClient.Json(limits, StratusJsonContext.Default.EndpointLimits), StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>Sets the endpoint's replicas: from <paramref name="minReplicas"/> (0 lets it scale to zero when idle) to <paramref name="maxReplicas"/>, an unneeded one stopping after <paramref name="idleSeconds"/>.</summary>
    public Task<EndpointInfo> SetScalingAsync(string name, int minReplicas, int maxReplicas, int idleSeconds = 300, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(name)}/scaling", StratusClient.Json(new EndpointScaling(minReplicas, maxReplicas, idleSeconds), StratusJsonContext.Default.EndpointScaling), StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>Sets the share of answered requests captured for monitoring (0 turns capture off).</summary>
    public Task<EndpointInfo> SetCaptureAsync(string name, double sampleRate, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(name)}/capture", StratusClient.Json(new EndpointCapture(sampleRate), StratusJsonContext.Default.EndpointCapture), StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>The latest captured rows, newest first.</summary>
    public Task<IReadOnlyList<CapturedRow>> CapturesAsync(string name, int? limit = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/endpoints/{StratusClient.Segment(name)}/captures", ("limit", limit?.ToString(CultureInfo.InvariantCulture))), StratusJsonContext.Default.IReadOnlyListCapturedRow, ct);

    /// <summary>Turns adaptive micro-batching on or off.</summary>
    public Task<EndpointInfo> SetBatchingAsync(string name, EndpointBatching batching, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(name)}/batching", StratusClient.Json(batching, StratusJsonContext.Default.EndpointBatching), StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>Starts a gradual rollout of a new version; it steps and rolls back by itself.</summary>
    public Task<RolloutInfo> RolloutAsync(string name, RolloutRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/endpoints/{StratusClient.Segment(name)}/rollout", StratusClient.Json(request, StratusJsonContext.Default.RolloutRequest), StratusJsonContext.Default.RolloutInfo, ct);

    /// <summary>The endpoint's latest rollout.</summary>
    public Task<RolloutInfo> GetRolloutAsync(string name, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/endpoints/{StratusClient.Segment(name)}/rollout", StratusJsonContext.Default.RolloutInfo, ct);

    /// <summary>Aborts the endpoint's running rollout: the old version takes all the traffic back.</summary>
    public Task<RolloutInfo> AbortRolloutAsync(string name, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Delete, $"api/v1/endpoints/{StratusClient.Segment(name)}/rollout", null, StratusJsonContext.Default.RolloutInfo, ct);

    /// <summary>The latest requests the endpoint's shadow version scored beside the live one, newest first.</summary>
    public Task<IReadOnlyList<ShadowRecord>> ShadowAsync(string name, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/endpoints/{StratusClient.Segment(name)}/shadow", StratusJsonContext.Default.IReadOnlyListShadowRecord, ct);

    /// <summary>Shows an endpoint.</summary>
    public Task<EndpointInfo> GetAsync(string name, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/endpoints/{StratusClient.Segment(name)}", StratusJsonContext.Default.EndpointInfo, ct);

    /// <summary>Lists endpoints.</summary>
    public Task<Page<EndpointInfo>> ListAsync(int? pageSize = null, string? pageToken = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query("api/v1/endpoints", ("page_size", pageSize?.ToString(CultureInfo.InvariantCulture)), ("page_token", pageToken)), StratusJsonContext.Default.PageEndpointInfo, ct);

    /// <summary>Deletes an endpoint.</summary>
    public Task DeleteAsync(string name, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Delete, $"api/v1/endpoints/{StratusClient.Segment(name)}", null, ct);

    /// <summary>Scores rows.</summary>
    public Task<PredictResponse> PredictAsync(string name, PredictRequest request, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/endpoints/{StratusClient.Segment(name)}/predict", StratusClient.Json(request, StratusJsonContext.Default.PredictRequest), StratusJsonContext.Default.PredictResponse, ct);
}

/// <summary>Monitoring: model baselines and endpoint drift.</summary>
public sealed class MonitoringClient(StratusClient client)
{
    /// <summary>A model version's baseline: its inputs on the training data, its predictions on validation rows.</summary>
    public Task<ModelBaseline> BaselineAsync(string model, int version, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/models/{StratusClient.Segment(model)}/versions/{version.ToString(CultureInfo.InvariantCulture)}/baseline", StratusJsonContext.Default.ModelBaseline, ct);

    /// <summary>Sets a model version's baseline from a dataset version (its inputs there and its predictions on those rows).</summary>
    public Task<ModelBaseline> SetBaselineAsync(string model, int version, string dataset, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/models/{StratusClient.Segment(model)}/versions/{version.ToString(CultureInfo.InvariantCulture)}/baseline",
            StratusClient.Json(new SetBaselineRequest(dataset), StratusJsonContext.Default.SetBaselineRequest), StratusJsonContext.Default.ModelBaseline, ct);

    /// <summary>Checks an endpoint's captured requests in a window against its model's baseline; the report is kept.</summary>
    public Task<DriftReport> CheckDriftAsync(string endpoint, DriftCheckRequest? request = null, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/endpoints/{StratusClient.Segment(endpoint)}/drift", StratusClient.Json(request ?? new DriftCheckRequest(), StratusJsonContext.Default.DriftCheckRequest),
            StratusJsonContext.Default.DriftReport, ct);

    /// <summary>Sends true labels for captured predictions; bad items throw a <see cref="StratusApiException"/> listing them in <see cref="StratusApiException.Errors"/> (the others are stored).</summary>
    public Task<FeedbackResult> FeedbackAsync(string endpoint, IReadOnlyList<FeedbackItem> items, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/endpoints/{StratusClient.Segment(endpoint)}/feedback", StratusClient.Json(new FeedbackRequest(items), StratusJsonContext.Default.FeedbackRequest),
            StratusJsonContext.Default.FeedbackResult, ct);

    /// <summary>The main model version's metrics on labelled predictions, window by window.</summary>
    public Task<PerformanceReport> PerformanceAsync(string endpoint, double? windowMinutes = null, int? buckets = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/endpoints/{StratusClient.Segment(endpoint)}/performance",
            ("window_minutes", windowMinutes?.ToString(CultureInfo.InvariantCulture)), ("buckets", buckets?.ToString(CultureInfo.InvariantCulture))), StratusJsonContext.Default.PerformanceReport, ct);

    /// <summary>Sets an endpoint's monitoring policy (triggers, schedule, retraining, promotion, webhooks).</summary>
    public Task<MonitorPolicyInfo> SetPolicyAsync(string endpoint, MonitorPolicy policy, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Put, $"api/v1/endpoints/{StratusClient.Segment(endpoint)}/policy", StratusClient.Json(policy, StratusJsonContext.Default.MonitorPolicy),
            StratusJsonContext.Default.MonitorPolicyInfo, ct);

    /// <summary>An endpoint's monitoring policy and when it is next checked.</summary>
    public Task<MonitorPolicyInfo> GetPolicyAsync(string endpoint, CancellationToken ct = default) =>
        client.GetAsync($"api/v1/endpoints/{StratusClient.Segment(endpoint)}/policy", StratusJsonContext.Default.MonitorPolicyInfo, ct);

    /// <summary>Removes an endpoint's monitoring policy; its decisions are kept.</summary>
    public Task DeletePolicyAsync(string endpoint, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Delete, $"api/v1/endpoints/{StratusClient.Segment(endpoint)}/policy", null, ct);

    /// <summary>Runs an endpoint's policy now; returns what it decided.</summary>
    public Task<PolicyDecision> RunPolicyAsync(string endpoint, CancellationToken ct = default) =>
        client.SendAsync(HttpMethod.Post, $"api/v1/endpoints/{StratusClient.Segment(endpoint)}/policy/run", null, StratusJsonContext.Default.PolicyDecision, ct);

    /// <summary>What an endpoint's policy decided, newest first.</summary>
    public Task<IReadOnlyList<PolicyDecision>> DecisionsAsync(string endpoint, int? limit = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/endpoints/{StratusClient.Segment(endpoint)}/policy/decisions", ("limit", limit?.ToString(CultureInfo.InvariantCulture))),
            StratusJsonContext.Default.IReadOnlyListPolicyDecision, ct);

    /// <summary>An endpoint's monitoring over the last <paramref name="days"/> days: drift per column over time, distributions, performance, decisions.</summary>
    public Task<MonitoringReport> ReportAsync(string endpoint, double? days = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/endpoints/{StratusClient.Segment(endpoint)}/report", ("days", days?.ToString(CultureInfo.InvariantCulture))),
            StratusJsonContext.Default.MonitoringReport, ct);

    /// <summary>An endpoint's drift reports, newest first.</summary>
    public Task<IReadOnlyList<DriftReport>> DriftHistoryAsync(string endpoint, int? limit = null, CancellationToken ct = default) =>
        client.GetAsync(StratusClient.Query($"api/v1/endpoints/{StratusClient.Segment(endpoint)}/drift", ("limit", limit?.ToString(CultureInfo.InvariantCulture))),
            StratusJsonContext.Default.IReadOnlyListDriftReport, ct);
}
