using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.RateLimiting;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Inference;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Storage;

namespace Stratus.Server.Serving;

/// <summary>A model version loaded for serving; <paramref name="Sha256"/> names its package in the <see cref="ModelCache"/>.</summary>
public sealed record LoadedModel(ModelVersionRef Version, ModelPackage Package, string Sha256);

/// <summary>
/// An endpoint ready to answer: the versions that answer requests with their weights (percent), its shadow, its
/// admission limits, its replicas and, when batching is on, a <see cref="MicroBatcher"/> per version (made on first use).
/// </summary>
public sealed class LoadedEndpoint
{
    private readonly ConcurrentDictionary<LoadedModel, MicroBatcher> _batchers = new();
    private readonly string name;
    private readonly IReadOnlyList<(LoadedModel Model, int Weight)> live;
    private readonly EndpointLimits limits;
    private readonly EndpointBatching batching;
    private readonly EndpointCapture capture;
    private volatile bool _retired;

    public LoadedEndpoint(string name, IReadOnlyList<(LoadedModel Model, int Weight)> live, LoadedModel? shadow, EndpointLimits limits, EndpointBatching batching,
        EndpointCapture capture, ReplicaSet replicas, EndpointScaling scaling)
    {
        this.name = name;
        this.live = live;
        this.limits = limits;
        this.batching = batching;
        this.capture = capture;
        Shadow = shadow;
        Replicas = replicas;
        Limiter = new(new ConcurrencyLimiterOptions
        {
            PermitLimit = batching.Enabled ? (int)Math.Min((long)limits.MaxConcurrency * batching.MaxBatchRows, 1 << 20) : limits.MaxConcurrency,
            QueueLimit = limits.MaxQueue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        replicas.Scaling = scaling;
    }

    public string Name => name;

    /// <summary>The endpoint's <c>UpdatedAt</c> in Unix milliseconds when this was built: another node's change shows as a newer one.</summary>
    public long Revision { get; init; }

    /// <summary>The replicas that give model calls their lanes (kept across the endpoint's re-routes).</summary>
    public ReplicaSet Replicas { get; }

    public EndpointLimits Limits => limits;

    public EndpointBatching Batching => batching;

    public EndpointCapture Capture => capture;

    /// <summary>Whether this answered request is one of the share captured for monitoring.</summary>
    public bool Sampled() => capture.SampleRate >= 1 || (capture.SampleRate > 0 && Random.Shared.NextDouble() < capture.SampleRate);

    /// <summary>
    /// Admits at most <see cref="EndpointLimits.MaxConcurrency"/> requests at once (with batching on, that many model
    /// calls: times <see cref="EndpointBatching.MaxBatchRows"/> requests) and queues up to <see cref="EndpointLimits.MaxQueue"/>, oldest first.
    /// </summary>
    public ConcurrencyLimiter Limiter { get; }

    public IReadOnlyList<(LoadedModel Model, int Weight)> Live => live;

    public LoadedModel? Shadow { get; }

    /// <summary>A version for one request, each in proportion to its weight.</summary>
    public LoadedModel Pick()
    {
        if (live.Count == 1) return live[0].Model;
        var ticket = Random.Shared.Next(100);
        foreach (var (model, weight) in live)
        {
            if (ticket < weight) return model;
            ticket -= weight;
        }
        return live[^1].Model;
    }

    /// <summary>Whether the endpoint serves (or shadows) the package with this content hash.</summary>
    public bool Uses(string sha256) => live.Any(v => v.Model.Sha256 == sha256) || Shadow?.Sha256 == sha256;

    /// <summary>The version's batcher when batching is on (and the endpoint still current), else null.</summary>
    public MicroBatcher? Batcher(LoadedModel model, Func<LoadedModel, MicroBatcher> create)
    {
        if (!batching.Enabled || _retired) return null;
        var batcher = _batchers.GetOrAdd(model, create);
        if (_retired) batcher.Retire(); // lost a race with Retire: it drains what it took
        return batcher;
    }

    /// <summary>Called when the endpoint is replaced or unloaded: its batchers finish what they hold and take no more.</summary>
    public void Retire()
    {
        _retired = true;
        foreach (var batcher in _batchers.Values) batcher.Retire();
    }
}

/// <summary>
/// The endpoints this process serves, by name, and the model packages they share, by content hash. A switch swaps one
/// reference, so requests in flight finish on the versions they started with and none is dropped. Endpoints load
/// lazily from the database, so they come back after a restart (or after their models were unloaded) on their first
/// request. Packages beyond <see cref="ServingSettings.ModelCacheBytes"/> are unloaded, least recently used first,
/// with the endpoints that use them; each load is timed (the cold start) in the metrics.
/// </summary>
public sealed class ModelCache(ServingSettings options, ServingMetrics metrics)
{
    private sealed class Entry(ModelPackage package, long bytes)
    {
        public ModelPackage Package { get; } = package;
        public long Bytes { get; } = bytes;
        public long LastUsed = Stopwatch.GetTimestamp();
    }

    private readonly ConcurrentDictionary<string, LoadedEndpoint> _byEndpoint = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry> _byBlob = new(StringComparer.Ordinal);
    private readonly Lock _evicting = new();
    private long _bytes;

    public bool TryGet(string endpoint, out LoadedEndpoint loaded) => _byEndpoint.TryGetValue(endpoint, out loaded!);

    /// <summary>The endpoints loaded now.</summary>
    public IReadOnlyList<LoadedEndpoint> Endpoints => [.. _byEndpoint.Values];

    public void Set(LoadedEndpoint endpoint)
    {
        LoadedEndpoint? old = null;
        _byEndpoint.AddOrUpdate(endpoint.Name, endpoint, (_, previous) =>
        {
            old = previous;
            return endpoint;
        });
        if (!ReferenceEquals(old, endpoint)) old?.Retire();
    }

    public void Remove(string endpoint)
    {
        if (_byEndpoint.TryRemove(endpoint, out var old)) old.Retire();
    }

    /// <summary>Unloads an endpoint (scaled to zero) and the packages no other loaded endpoint uses: their memory is freed.</summary>
    public void Release(string endpoint)
    {
        if (!_byEndpoint.TryRemove(endpoint, out var old)) return;
        old.Retire();
        lock (_evicting)
        {
            foreach (var sha in old.Live.Select(v => v.Model.Sha256).Append(old.Shadow?.Sha256).OfType<string>().Distinct())
            {
                if (_byEndpoint.Values.Any(e => e.Uses(sha)) || !_byBlob.TryRemove(sha, out var entry)) continue;
                Interlocked.Add(ref _bytes, -entry.Bytes);
                metrics.ModelUnloaded();
            }
        }
    }

    /// <summary>Model packages in memory.</summary>
    public int Loaded => _byBlob.Count;

    /// <summary>Their size, as stored (the estimate the cap is held against).</summary>
    public long LoadedBytes => Interlocked.Read(ref _bytes);

    /// <summary>Marks a package as just used: the last to be unloaded.</summary>
    public void Touch(string sha256)
    {
        if (_byBlob.TryGetValue(sha256, out var entry)) Volatile.Write(ref entry.LastUsed, Stopwatch.GetTimestamp());
    }

    private readonly ConcurrentDictionary<string, ModelManifest> _manifests = new(StringComparer.Ordinal);

    /// <summary>
    /// A package's manifest (signature, task, classes, metrics): the loaded package's when it is in memory, else read
    /// from storage once per content hash (a package never changes) without loading the model.
    /// </summary>
    public async Task<ModelManifest> ManifestAsync(IBlobStore blobs, string sha256, CancellationToken ct)
    {
        if (_byBlob.TryGetValue(sha256, out var loaded)) return loaded.Package.Manifest;
        if (_manifests.TryGetValue(sha256, out var manifest)) return manifest;
        await using var stream = await blobs.ReadVerifiedAsync(sha256, ct);
        return _manifests.GetOrAdd(sha256, StoredPackages.Read(stream, "the model version", ModelPackage.ReadManifest));
    }

    /// <summary>Loads a package once per content hash (endpoints serving the same version share it), then unloads the least recently used others while over the cap.</summary>
    public async Task<ModelPackage> LoadAsync(IBlobStore blobs, string sha256, CancellationToken ct)
    {
        if (_byBlob.TryGetValue(sha256, out var cached))
        {
            Volatile.Write(ref cached.LastUsed, Stopwatch.GetTimestamp());
            return cached.Package;
        }
        var started = Stopwatch.GetTimestamp();
        await using var stream = await blobs.ReadVerifiedAsync(sha256, ct);
        var loaded = new Entry(StoredPackages.Read(stream, "the model version", ModelPackage.Load), stream.Length);
        var entry = _byBlob.GetOrAdd(sha256, loaded);
        if (ReferenceEquals(entry, loaded))
        {
            Interlocked.Add(ref _bytes, loaded.Bytes);
            metrics.ModelLoaded(Stopwatch.GetElapsedTime(started));
            Evict(sha256);
        }
        return entry.Package;
    }

    private void Evict(string keep)
    {
        lock (_evicting)
        {
            while (Interlocked.Read(ref _bytes) > options.ModelCacheBytes)
            {
                var victim = _byBlob.Where(kv => kv.Key != keep).MinBy(kv => Volatile.Read(ref kv.Value.LastUsed));
                if (victim.Key is null || !_byBlob.TryRemove(victim.Key, out var entry)) break;
                Interlocked.Add(ref _bytes, -entry.Bytes);
                metrics.ModelUnloaded();
                // Its endpoints load again on their next request; requests in flight finish on what they hold.
                foreach (var (name, endpoint) in _byEndpoint)
                {
                    if (endpoint.Uses(victim.Key)) Remove(name);
                }
            }
        }
    }
}

/// <summary>Deploys, splits traffic between versions, lists and deletes endpoints, and answers predictions.</summary>
public sealed class EndpointService(StratusDb db, RegistryService registry, IBlobStore blobs, ModelCache cache, ShadowScoring shadows,
    ReplicaRegistry replicas, ServingSettings options, TimeProvider clock)
{
    /// <summary>The most rows one predict request may carry.</summary>
    public const int MaxInstances = 10_000;

    /// <summary>The most replicas an endpoint may run on one server.</summary>
    public const int MaxReplicas = 256;

    /// <summary>Points an endpoint at one model version, which then takes all its traffic (a shadow is dropped).</summary>
    public Task<EndpointInfo> DeployAsync(string name, DeployRequest request, CancellationToken ct) =>
        RouteAsync(name, [(request.Model, 100, "model")], null, ct);

    /// <summary>
    /// Splits an endpoint's requests between model versions (weights in percent summing to 100), with an optional
    /// shadow version. Every version is loaded first: a package that does not load is refused and the endpoint keeps
    /// its routing.
    /// </summary>
    /// <param name="unchangedSince">
    /// When given, the change is made only if the endpoint is still as it was then (its <see cref="EndpointInfo.UpdatedAt"/>),
    /// and refused with 409 otherwise: a rollout's step never overwrites what someone changed since it judged.
    /// </param>
    public Task<EndpointInfo> SetTrafficAsync(string name, TrafficRequest request, CancellationToken ct, DateTimeOffset? unchangedSince = null)
    {
        if (request.Versions is not { Count: > 0 }) throw ProblemException.Invalid("versions", "name at least one model version and its weight");
        for (var i = 0; i < request.Versions.Count; i++)
        {
            if (request.Versions[i].Weight is < 1 or > 100) throw ProblemException.Invalid($"versions[{i}].weight", $"is {request.Versions[i].Weight}; a share of the traffic is 1 to 100 (percent)");
        }
        var total = request.Versions.Sum(v => v.Weight);
        if (total != 100) throw ProblemException.Invalid("versions", $"the weights add up to {total}; they must add up to 100");
        return RouteAsync(name, [.. request.Versions.Select((v, i) => (v.Model, v.Weight, $"versions[{i}].model"))], request.Shadow, ct, unchangedSince);
    }

    private async Task<EndpointInfo> RouteAsync(string name, IReadOnlyList<(string Model, int Weight, string Field)> live, string? shadow, CancellationToken ct,
        DateTimeOffset? unchangedSince = null)
    {
        CheckKey(name);
        var targets = live.Select(v => (v.Model, v.Weight, v.Field, Shadow: false)).ToList();
        if (shadow is not null) targets.Add((shadow, 0, "shadow", true));
        var resolved = new List<(EndpointVersionRow Row, LoadedModel Model)>();
        foreach (var (model, weight, field, isShadow) in targets)
        {
            if (!ModelRef.TryParse(model, out var reference, out var error)) throw ProblemException.Invalid(field, error!);
            ModelVersionInfo version;
            try
            {
                version = await registry.GetVersionAsync(reference, ct);
            }
            catch (ProblemException ex) when (ex.Status == 404 && field != "model")
            {
                throw ProblemException.Invalid(field, ex.Message);
            }
            if (resolved.Any(r => r.Row.ModelName == version.Name && r.Row.ModelVersion == version.Version))
                throw ProblemException.Invalid(field, $"{version.Name}:{version.Version} is named twice; each version takes one place");
            ModelPackage package;
            try
            {
                package = await cache.LoadAsync(blobs, version.Sha256, ct);
            }
            catch (Exception ex) when (ex is InvalidDataException or InvalidModelException)
            {
                throw ProblemException.Invalid(field, $"{version.Name}:{version.Version} is not a servable Stratus model package: {ex.Message}");
            }
            var row = new EndpointVersionRow { ModelRef = reference.ToString(), ModelName = version.Name, ModelVersion = version.Version, Weight = weight, Shadow = isShadow };
            resolved.Add((row, new LoadedModel(new ModelVersionRef(version.Name, version.Version), package, version.Sha256)));
        }

        var endpoint = await SavedAsync(async () =>
        {
            var now = clock.GetUtcNow();
            var row = await db.Endpoints.Include(e => e.Versions).FirstOrDefaultAsync(e => e.Name == name, ct);
            if (unchangedSince is { } since && row?.UpdatedAt != since) throw Changed(name);
            if (row is null)
            {
                row = new EndpointRow { Name = name, CreatedAt = now };
                db.Add(row);
            }
            row.UpdatedAt = now;
            row.Versions.Clear();
            row.Versions.AddRange(resolved.Select(r => new EndpointVersionRow
            {
                ModelRef = r.Row.ModelRef, ModelName = r.Row.ModelName, ModelVersion = r.Row.ModelVersion, Weight = r.Row.Weight, Shadow = r.Row.Shadow,
            }));
            await db.SaveChangesAsync(ct);
            return row;
        }, name, retry: unchangedSince is null);
        cache.Set(Load(endpoint, [.. resolved.Where(r => !r.Row.Shadow).Select(r => (r.Model, r.Row.Weight))], resolved.FirstOrDefault(r => r.Row.Shadow).Model));
        if (shadow is null) shadows.Forget(name); // the comparisons belonged to a shadow that is gone
        return ToInfo(endpoint);
    }

    /// <summary>Sets how many requests an endpoint scores at once, how many may wait and how long one may take; the models stay loaded.</summary>
    public Task<EndpointInfo> SetLimitsAsync(string name, EndpointLimits limits, CancellationToken ct)
    {
        if (limits.MaxConcurrency is < 1 or > 1024) throw ProblemException.Invalid("max_concurrency", $"is {limits.MaxConcurrency}; an endpoint scores 1 to 1024 requests at once");
        if (limits.MaxQueue is < 0 or > 100_000) throw ProblemException.Invalid("max_queue", $"is {limits.MaxQueue}; 0 to 100,000 requests may wait");
        if (limits.TimeoutMs is < 1 or > 600_000) throw ProblemException.Invalid("timeout_ms", $"is {limits.TimeoutMs}; a request may take 1 to 600,000 ms (leave it out for no limit)");
        return ChangeAsync(name, row =>
        {
            row.MaxConcurrency = limits.MaxConcurrency;
            row.MaxQueue = limits.MaxQueue;
            row.TimeoutMs = limits.TimeoutMs;
            row.StrictCategories = limits.StrictCategories;
        }, ct);
    }

    /// <summary>Turns micro-batching on (with its maximum rows per call and added delay) or off; the models stay loaded.</summary>
    public Task<EndpointInfo> SetBatchingAsync(string name, EndpointBatching batching, CancellationToken ct)
    {
        if (batching.Enabled)
        {
            if (batching.MaxBatchRows is < 2 or > MaxInstances) throw ProblemException.Invalid("max_batch_rows", $"is {batching.MaxBatchRows}; a batch holds 2 to {MaxInstances:N0} rows");
            if (batching.MaxDelayMs is < 0 or > 1000 || double.IsNaN(batching.MaxDelayMs)) throw ProblemException.Invalid("max_delay_ms", $"is {batching.MaxDelayMs}; a request waits 0 to 1,000 ms for its batch");
        }
        return ChangeAsync(name, row =>
        {
            row.BatchMaxRows = batching.Enabled ? batching.MaxBatchRows : null;
            row.BatchMaxDelayMs = batching.Enabled ? batching.MaxDelayMs : null;
        }, ct);
    }

    /// <summary>Sets the share of answered requests captured for monitoring (0 turns capture off).</summary>
    public Task<EndpointInfo> SetCaptureAsync(string name, EndpointCapture capture, CancellationToken ct)
    {
        if (capture.SampleRate is < 0 or > 1 || double.IsNaN(capture.SampleRate)) throw ProblemException.Invalid("sample_rate", $"is {capture.SampleRate}; a share of the requests is 0 to 1");
        return ChangeAsync(name, row => row.CaptureSampleRate = capture.SampleRate > 0 ? capture.SampleRate : null, ct);
    }

    /// <summary>Sets how many replicas serve the endpoint (a minimum of 0 lets it scale to zero) and how long an unneeded one lives.</summary>
    public Task<EndpointInfo> SetScalingAsync(string name, EndpointScaling scaling, CancellationToken ct)
    {
        if (scaling.MinReplicas is < 0 or > MaxReplicas) throw ProblemException.Invalid("min_replicas", $"is {scaling.MinReplicas}; keep 0 to {MaxReplicas} replicas running (0 lets the endpoint scale to zero)");
        if (scaling.MaxReplicas is < 1 or > MaxReplicas) throw ProblemException.Invalid("max_replicas", $"is {scaling.MaxReplicas}; an endpoint runs 1 to {MaxReplicas} replicas");
        if (scaling.MaxReplicas < scaling.MinReplicas) throw ProblemException.Invalid("max_replicas", $"is {scaling.MaxReplicas}, below min_replicas ({scaling.MinReplicas})");
        if (scaling.IdleSeconds is < 1 or > 86_400) throw ProblemException.Invalid("idle_seconds", $"is {scaling.IdleSeconds}; a replica may idle 1 to 86,400 seconds before it stops");
        return ChangeAsync(name, row =>
        {
            row.MinReplicas = scaling.MinReplicas;
            row.MaxReplicas = scaling.MaxReplicas;
            row.IdleSeconds = scaling.IdleSeconds;
        }, ct);
    }

    /// <summary>Changes an endpoint's settings; a loaded endpoint is rebuilt from them around the models it holds.</summary>
    private async Task<EndpointInfo> ChangeAsync(string name, Action<EndpointRow> change, CancellationToken ct)
    {
        CheckKey(name);
        var row = await SavedAsync(async () =>
        {
            var row = await db.Endpoints.Include(e => e.Versions).FirstOrDefaultAsync(e => e.Name == name, ct)
            ?? throw ProblemException.NotFound($"endpoint '{Projects.SplitEndpointKey(name).Name}'");
            change(row);
            row.UpdatedAt = clock.GetUtcNow();
            await db.SaveChangesAsync(ct);
            return row;
        }, name, retry: true);
        if (cache.TryGet(name, out var loaded)) cache.Set(Load(row, loaded.Live, loaded.Shadow));
        else replicas.For(name).Scaling = Scaling(row); // an endpoint scaled to zero (or not loaded yet) learns its new minimum now
        return ToInfo(row);
    }

    /// <summary>
    /// Runs a read-change-save of an endpoint. Another change landing in between (the endpoint's
    /// <see cref="EndpointRow.UpdatedAt"/> moved, its versions went, or the two writes deadlocked) makes the save fail: with
    /// <paramref name="retry"/> the change is made again on top of that one (a person's deploy or setting is whole
    /// in itself), without it the change is refused.
    /// </summary>
    private async Task<EndpointRow> SavedAsync(Func<Task<EndpointRow>> write, string name, bool retry)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await write();
            }
            catch (Exception ex) when (MetadataDatabase.IsConflict(ex))
            {
                db.ChangeTracker.Clear();
                if (!retry || attempt == 10) throw Changed(name);
                // Apart, at random: changes that met once do not meet again in the same order.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 25) * attempt));
            }
        }
    }

    private static ProblemException Changed(string name) =>
        ProblemException.Conflict($"endpoint '{name}' was changed by another request at the same time; read it again and retry");

    private LoadedEndpoint Load(EndpointRow row, IReadOnlyList<(LoadedModel Model, int Weight)> live, LoadedModel? shadow) =>
        new(row.Name, live, shadow, Limits(row), Batching(row), Capture(row), replicas.For(row.Name), Scaling(row)) { Revision = row.UpdatedAt.ToUnixTimeMilliseconds() };

    private static EndpointScaling Scaling(EndpointRow row) =>
        new(row.MinReplicas ?? 1, row.MaxReplicas ?? Math.Max(Environment.ProcessorCount, row.MinReplicas ?? 1), row.IdleSeconds ?? 300);

    private static EndpointCapture Capture(EndpointRow row) => new(row.CaptureSampleRate ?? 0);

    private static EndpointBatching Batching(EndpointRow row) =>
        row.BatchMaxRows is { } rows ? new EndpointBatching(true, rows, row.BatchMaxDelayMs ?? 5) : new EndpointBatching(false);

    private EndpointLimits Limits(EndpointRow row) =>
        new(row.MaxConcurrency ?? options.EndpointMaxConcurrency, row.MaxQueue ?? options.EndpointMaxQueue, row.TimeoutMs, row.StrictCategories);

    public async Task<Page<EndpointInfo>> ListAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await db.Endpoints.AsNoTracking().Include(e => e.Versions).OrderBy(e => e.Name).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(ToInfo), offset, size);
    }

    public async Task<EndpointInfo> GetAsync(string name, CancellationToken ct) => ToInfo(await FindAsync(name, ct));

    public async Task DeleteAsync(string name, CancellationToken ct)
    {
        var row = await FindAsync(name, ct);
        await db.Endpoints.Where(e => e.Id == row.Id).ExecuteDeleteAsync(ct);
        await db.Policies.Where(p => p.Endpoint == name).ExecuteDeleteAsync(ct); // its decisions stay, as history
        await db.CaptureFiles.Where(c => c.Endpoint == name).ExecuteDeleteAsync(ct); // their blobs are collected
        Unload(name);
    }

    private void Unload(string name)
    {
        cache.Remove(name);
        replicas.Stop(name);
        shadows.Forget(name);
    }

    /// <summary>Scores rows with a model, in a batch when <paramref name="batcher"/> is given; rows that do not fit its signature get a 400 naming the field.</summary>
    /// <param name="strict">Refuse categories the model never saw (a batcher applies its own setting).</param>
    public static async ValueTask<PredictResponse> PredictAsync(LoadedModel model, PredictRequest request, string requestId, MicroBatcher? batcher = null, bool strict = false)
    {
        if (request.Instances is not { Count: > 0 }) throw ProblemException.Invalid("instances", "must hold at least one row");
        if (request.Instances.Count > MaxInstances) throw new ProblemException(413, "Too many rows", $"instances: at most {MaxInstances} rows per request; split the batch", "instances");
        try
        {
            var predictions = batcher is null ? model.Package.Predict(request.Instances, strict) : await batcher.PredictAsync(request.Instances);
            return new PredictResponse(predictions, model.Version, requestId);
        }
        catch (PredictionInputException ex)
        {
            throw ProblemException.Invalid(ex.Field, ex.Reason);
        }
    }

    /// <summary>An endpoint's models, loading them (after a restart, or on another silo) on first use.</summary>
    public async Task<LoadedEndpoint> ResolveAsync(string name, CancellationToken ct) =>
        cache.TryGet(name, out var loaded) ? loaded : await LoadAsync(await FindAsync(name, ct), ct);

    /// <summary>
    /// Brings this node's loaded endpoints up to date with the database after changes made on other nodes (a deploy,
    /// a traffic split, a rollout's step, a deletion): each one whose row is newer is rebuilt, each one deleted is
    /// unloaded. Requests in flight finish on what they started with.
    /// </summary>
    public async Task<int> SyncAsync(CancellationToken ct)
    {
        var loaded = cache.Endpoints;
        if (loaded.Count == 0) return 0;
        var names = loaded.Select(e => e.Name).ToList();
        var revisions = await db.Endpoints.AsNoTracking().Where(e => names.Contains(e.Name)).Select(e => new { e.Name, e.UpdatedAt }).ToDictionaryAsync(e => e.Name, e => e.UpdatedAt.ToUnixTimeMilliseconds(), ct);
        var changed = 0;
        foreach (var endpoint in loaded)
        {
            if (!revisions.TryGetValue(endpoint.Name, out var revision)) Unload(endpoint.Name);
            else if (revision != endpoint.Revision && await db.Endpoints.AsNoTracking().Include(e => e.Versions).FirstOrDefaultAsync(e => e.Name == endpoint.Name, ct) is { } row) await LoadAsync(row, ct);
            else continue;
            changed++;
        }
        return changed;
    }

    private async Task<LoadedEndpoint> LoadAsync(EndpointRow row, CancellationToken ct)
    {
        var live = new List<(LoadedModel, int)>();
        LoadedModel? shadow = null;
        foreach (var v in row.Versions)
        {
            // Named in the endpoint's project, whichever project this scope is in (a node's sync is in none).
            var model = Projects.SplitQualified(v.ModelName).Project is null ? Projects.Qualified(row.Project, v.ModelName) : v.ModelName;
            var version = await registry.GetVersionAsync(new ModelRef(model, v.ModelVersion, null), ct);
            var served = new LoadedModel(new ModelVersionRef(version.Name, version.Version), await cache.LoadAsync(blobs, version.Sha256, ct), version.Sha256);
            if (v.Shadow) shadow = served;
            else live.Add((served, v.Weight));
        }
        var loaded = Load(row, live, shadow);
        cache.Set(loaded);
        return loaded;
    }

    private async Task<EndpointRow> FindAsync(string name, CancellationToken ct)
    {
        CheckKey(name);
        return await db.Endpoints.AsNoTracking().Include(e => e.Versions).FirstOrDefaultAsync(e => e.Name == name, ct)
            ?? throw ProblemException.NotFound($"endpoint '{Projects.SplitEndpointKey(name).Name}'");
    }

    /// <summary>An endpoint's key (<see cref="EndpointRow.Name"/>): a name, or <c>project/name</c>.</summary>
    private static void CheckKey(string key)
    {
        if (Projects.ValidateQualified(key) is { } error) throw ProblemException.Invalid("name", error);
    }

    private EndpointInfo ToInfo(EndpointRow r)
    {
        static TrafficShare Share(EndpointVersionRow v) => new(new ModelVersionRef(v.ModelName, v.ModelVersion), v.ModelRef, v.Weight);
        // The main version is the one with the largest share (the first named of those).
        List<TrafficShare> traffic = [.. r.Versions.Where(v => !v.Shadow).OrderByDescending(v => v.Weight).ThenBy(v => v.Id).Select(Share)];
        return new(Projects.SplitEndpointKey(r.Name).Name, traffic[0].ModelRef, traffic[0].Model, r.CreatedAt, r.UpdatedAt, traffic,
            r.Versions.FirstOrDefault(v => v.Shadow) is { } s ? Share(s) : null, Limits(r), Batching(r), Capture(r), Scaling(r),
            replicas.CountOf(r.Name));
    }
}
