using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Inference;
using Stratus.Server.Hosting;
using Stratus.Server.Registry;
using Stratus.Server.Storage;

namespace Stratus.Server.Serving;

/// <summary>A model version loaded for serving.</summary>
public sealed record LoadedModel(ModelVersionRef Version, ModelPackage Package);

/// <summary>
/// The models this process serves, by endpoint name. A switch swaps one reference, so requests in flight finish on
/// the version they started with and none is dropped. Endpoints load lazily from the database, so they come back
/// after a restart on their first request.
/// </summary>
public sealed class ModelCache
{
    private readonly ConcurrentDictionary<string, LoadedModel> _byEndpoint = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ModelPackage> _byBlob = new(StringComparer.Ordinal);

    public bool TryGet(string endpoint, out LoadedModel model) => _byEndpoint.TryGetValue(endpoint, out model!);

    public void Set(string endpoint, LoadedModel model) => _byEndpoint[endpoint] = model;

    public void Remove(string endpoint) => _byEndpoint.TryRemove(endpoint, out _);

    /// <summary>Loads a package once per content hash; endpoints serving the same version share it.</summary>
    public async Task<ModelPackage> LoadAsync(IBlobStore blobs, string sha256, CancellationToken ct)
    {
        if (_byBlob.TryGetValue(sha256, out var cached)) return cached;
        await using var stream = new MemoryStream();
        await using (var blob = blobs.OpenRead(sha256))
        {
            await blob.CopyToAsync(stream, ct);
        }
        stream.Position = 0;
        return _byBlob.GetOrAdd(sha256, ModelPackage.Load(stream));
    }
}

/// <summary>Deploys, switches, lists and deletes endpoints, and answers predictions.</summary>
public sealed class EndpointService(StratusDb db, RegistryService registry, IBlobStore blobs, ModelCache cache, TimeProvider clock)
{
    /// <summary>The most rows one predict request may carry.</summary>
    public const int MaxInstances = 10_000;

    /// <summary>Points an endpoint at a model version, loading it first: a package that does not load is refused and the endpoint keeps serving the old one.</summary>
    public async Task<EndpointInfo> DeployAsync(string name, DeployRequest request, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        if (!ModelRef.TryParse(request.Model, out var reference, out var error)) throw ProblemException.Invalid("model", error!);
        var version = await registry.GetVersionAsync(reference, ct);
        ModelPackage package;
        try
        {
            package = await cache.LoadAsync(blobs, version.Sha256, ct);
        }
        catch (InvalidDataException ex)
        {
            throw ProblemException.Invalid("model", $"{version.Name}:{version.Version} is not a servable Stratus model package: {ex.Message}");
        }
        var now = clock.GetUtcNow();
        var row = await db.Endpoints.FirstOrDefaultAsync(e => e.Name == name, ct);
        if (row is null)
        {
            row = new EndpointRow { Name = name, ModelRef = reference.ToString(), ModelName = version.Name, CreatedAt = now };
            db.Add(row);
        }
        row.ModelRef = reference.ToString();
        row.ModelName = version.Name;
        row.ModelVersion = version.Version;
        row.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        cache.Set(name, new LoadedModel(new ModelVersionRef(version.Name, version.Version), package));
        return ToInfo(row);
    }

    public async Task<Page<EndpointInfo>> ListAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await db.Endpoints.AsNoTracking().OrderBy(e => e.Name).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(ToInfo), offset, size);
    }

    public async Task<EndpointInfo> GetAsync(string name, CancellationToken ct) => ToInfo(await FindAsync(name, ct));

    public async Task DeleteAsync(string name, CancellationToken ct)
    {
        var row = await FindAsync(name, ct);
        await db.Endpoints.Where(e => e.Id == row.Id).ExecuteDeleteAsync(ct);
        cache.Remove(name);
    }

    /// <summary>Scores rows with an endpoint's model; rows that do not fit its signature get a 400 naming the field.</summary>
    public static PredictResponse Predict(LoadedModel model, PredictRequest request, string requestId)
    {
        if (request.Instances is not { Count: > 0 }) throw ProblemException.Invalid("instances", "must hold at least one row");
        if (request.Instances.Count > MaxInstances) throw new ProblemException(413, "Too many rows", $"instances: at most {MaxInstances} rows per request; split the batch", "instances");
        try
        {
            var predictions = model.Package.Predict(request.Instances);
            return new PredictResponse(predictions, model.Version, requestId);
        }
        catch (PredictionInputException ex)
        {
            throw ProblemException.Invalid(ex.Field, ex.Message[(ex.Field.Length + 2)..]);
        }
    }

    /// <summary>The model an endpoint serves, loading it (after a restart, or on another silo) on first use.</summary>
    public async Task<LoadedModel> ResolveAsync(string name, CancellationToken ct)
    {
        if (cache.TryGet(name, out var loaded)) return loaded;
        var row = await FindAsync(name, ct);
        var version = await registry.GetVersionAsync(new ModelRef(row.ModelName, row.ModelVersion, null), ct);
        loaded = new LoadedModel(new ModelVersionRef(version.Name, version.Version), await cache.LoadAsync(blobs, version.Sha256, ct));
        cache.Set(name, loaded);
        return loaded;
    }

    private async Task<EndpointRow> FindAsync(string name, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        return await db.Endpoints.AsNoTracking().FirstOrDefaultAsync(e => e.Name == name, ct) ?? throw ProblemException.NotFound($"endpoint '{name}'");
    }

    private static EndpointInfo ToInfo(EndpointRow r) => new(r.Name, r.ModelRef, new ModelVersionRef(r.ModelName, r.ModelVersion), r.CreatedAt, r.UpdatedAt);
}
