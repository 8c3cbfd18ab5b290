using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Inference;
using Stratus.Server.Kernel;
using Stratus.Server.Security;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Registry;

/// <summary>Registered models, their immutable versions, aliases, tags and lineage.</summary>
public sealed class RegistryService(StratusDb db, TrackingService tracking, IBlobStore blobs, TimeProvider clock)
{
    public async Task<RegisteredModelInfo> CreateModelAsync(CreateModelRequest request, CancellationToken ct)
    {
        ProblemException.CheckName("name", request.Name);
        if (await db.Models.AnyAsync(m => m.Name == request.Name, ct)) throw ProblemException.Conflict($"model '{request.Name}' already exists");
        var row = new ModelRow { Name = request.Name, Description = request.Description, TagsJson = JsonColumns.Write(request.Tags), CreatedAt = clock.GetUtcNow() };
        db.Models.Add(row);
        await db.SaveChangesAsync(ct);
        return await GetModelAsync(row.Name, ct);
    }

    public async Task<Page<RegisteredModelInfo>> ListModelsAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await db.Models.AsNoTracking().OrderBy(m => m.Name).Skip(offset).Take(size + 1).ToListAsync(ct);
        var infos = new List<RegisteredModelInfo>(rows.Count);
        foreach (var row in rows) infos.Add(await ToInfoAsync(row, ct));
        return Paging.Build(infos, offset, size);
    }

    public async Task<RegisteredModelInfo> GetModelAsync(string name, CancellationToken ct) => await ToInfoAsync(await FindModelAsync(name, ct), ct);

    public async Task<RegisteredModelInfo> UpdateModelAsync(string name, UpdateModelRequest request, CancellationToken ct)
    {
        var row = await FindModelAsync(name, ct, tracked: true);
        if (request.Description is not null) row.Description = request.Description;
        if (request.Tags is not null) row.TagsJson = JsonColumns.Write(Merge(JsonColumns.ReadTags(row.TagsJson), request.Tags));
        await db.SaveChangesAsync(ct);
        return await ToInfoAsync(row, ct);
    }

    /// <summary>Creates the next version from a run's artifact; the model name is registered on first use.</summary>
    /// <summary>
    /// Refuses a client's change to someone else's model: its owner (who registered version 1) or an admin may add
    /// versions, move aliases and edit it. A model that does not exist yet is anyone's to create. Retraining policies
    /// act as the system and are not asked.
    /// </summary>
    public async Task CheckOwnerAsync(string name, ClaimsPrincipal user, CancellationToken ct)
    {
        var owner = await db.ModelVersions.AsNoTracking().Where(v => db.Models.Any(m => m.Id == v.ModelId && m.Name == name))
            .OrderBy(v => v.Version).Select(v => v.CreatedBy).FirstOrDefaultAsync(ct);
        Ownership.Check(user, owner, $"model '{name}'");
    }

    public async Task<ModelVersionInfo> CreateVersionAsync(string name, CreateModelVersionRequest request, string? actor, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        if (string.IsNullOrEmpty(request.RunId)) throw ProblemException.Invalid("run_id", "is required");
        var artifact = await tracking.GetArtifactAsync(request.RunId, request.ArtifactPath, ct);
        // Only what serving can load becomes a version: an HTML page or a package that reads outside itself is refused now, not at deploy.
        await StoredPackages.LoadAsync(blobs, artifact.Sha256, $"artifact '{request.ArtifactPath}' of run '{request.RunId}'", ct);
        for (var attempt = 0; ; attempt++)
        {
            db.ChangeTracker.Clear();
            try
            {
                var model = await db.Models.FirstOrDefaultAsync(m => m.Name == name, ct);
                if (model is null)
                {
                    model = new ModelRow { Name = name, CreatedAt = clock.GetUtcNow() };
                    db.Models.Add(model);
                    await db.SaveChangesAsync(ct);
                }
                var latest = await db.ModelVersions.Where(v => v.ModelId == model.Id).MaxAsync(v => (int?)v.Version, ct) ?? 0;
                var row = new ModelVersionRow
                {
                    ModelId = model.Id,
                    Version = latest + 1,
                    RunId = request.RunId,
                    ArtifactPath = request.ArtifactPath,
                    Sha256 = artifact.Sha256,
                    Size = artifact.SizeBytes,
                    Description = request.Description,
                    TagsJson = JsonColumns.Write(request.Tags),
                    CreatedAt = clock.GetUtcNow(),
                    CreatedBy = actor,
                };
                db.ModelVersions.Add(row);
                await db.SaveChangesAsync(ct);
                return await GetVersionAsync(new ModelRef(name, row.Version, null), ct);
            }
            catch (DbUpdateException) when (attempt < 5)
            {
                // A concurrent registration took this name or version number: read again and take the next.
            }
        }
    }

    /// <summary>
    /// Registers an ONNX model as the next version of <paramref name="name"/>: checked and packaged first (refused with
    /// the field at fault, nothing stored), then kept as the artifact of a finished run in the <c>imported-models</c>
    /// experiment (its lineage: file, hash, exporter) and registered from it like a trained model.
    /// </summary>
    public async Task<ModelVersionInfo> ImportOnnxAsync(string name, byte[] onnx, OnnxSignature? signature, string fileName, string? description, string? actor, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        using var package = new MemoryStream();
        ModelManifest manifest;
        try
        {
            manifest = ModelPackage.ImportOnnx(onnx, signature, package);
        }
        catch (InvalidModelException ex)
        {
            throw ProblemException.Invalid(ex.Field, ex.Reason);
        }
        var parameters = new Dictionary<string, string>(manifest.Parameters) { ["source"] = fileName, ["format"] = "onnx", ["task"] = manifest.Task };
        var run = await tracking.CreateRunAsync(new CreateRunRequest(ImportExperiment, $"import-{name}", parameters), actor, ct);
        package.Position = 0;
        await tracking.PutArtifactAsync(run.Id, RunArtifactLayout.Package, package, ct);
        await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Finished), ct);
        return await CreateVersionAsync(name, new CreateModelVersionRequest(run.Id, RunArtifactLayout.Package, description), actor, ct);
    }

    /// <summary>The experiment whose runs hold imported models.</summary>
    public const string ImportExperiment = "imported-models";

    public async Task<Page<ModelVersionInfo>> ListVersionsAsync(string name, int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var model = await FindModelAsync(name, ct);
        var rows = await db.ModelVersions.AsNoTracking().Where(v => v.ModelId == model.Id)
            .OrderByDescending(v => v.Version).Skip(offset).Take(size + 1).ToListAsync(ct);
        var infos = new List<ModelVersionInfo>(rows.Count);
        foreach (var row in rows) infos.Add(await ToInfoAsync(model, row, ct));
        return Paging.Build(infos, offset, size);
    }

    /// <summary>Resolves <c>NAME:VERSION</c>, <c>NAME@ALIAS</c> or <c>NAME</c> (latest).</summary>
    public async Task<ModelVersionInfo> GetVersionAsync(ModelRef reference, CancellationToken ct)
    {
        var model = await FindModelAsync(reference.Name, ct, foreign: true);
        var version = reference.Version;
        if (reference.Alias is { } alias)
        {
            version = (await db.ModelAliases.AsNoTracking().FirstOrDefaultAsync(a => a.ModelId == model.Id && a.Alias == alias, ct))?.Version
                ?? throw ProblemException.NotFound($"alias '{alias}' of model '{reference.Name}'");
        }
        var query = db.ModelVersions.AsNoTracking().Where(v => v.ModelId == model.Id);
        var row = version is { } v
            ? await query.FirstOrDefaultAsync(x => x.Version == v, ct)
            : await query.OrderByDescending(x => x.Version).FirstOrDefaultAsync(ct);
        return row is null
            ? throw ProblemException.NotFound($"model version '{reference}'")
            : await ToInfoAsync(model, row, ct);
    }

    public async Task<ModelVersionInfo> UpdateVersionAsync(ModelRef reference, UpdateModelRequest request, CancellationToken ct)
    {
        var info = await GetVersionAsync(reference, ct);
        var model = await FindModelAsync(info.Name, ct);
        var row = await db.ModelVersions.FirstAsync(v => v.ModelId == model.Id && v.Version == info.Version, ct);
        if (request.Description is not null) row.Description = request.Description;
        if (request.Tags is not null) row.TagsJson = JsonColumns.Write(Merge(JsonColumns.ReadTags(row.TagsJson), request.Tags));
        await db.SaveChangesAsync(ct);
        return await GetVersionAsync(new ModelRef(info.Name, info.Version, null), ct);
    }

    /// <summary>Points an alias at a version; each move is kept, so it can be rolled back.</summary>
    public async Task<ModelVersionInfo> SetAliasAsync(string name, string alias, int version, CancellationToken ct, string? actor = null)
    {
        ProblemException.CheckName("alias", alias);
        if (int.TryParse(alias, out _)) throw ProblemException.Invalid("alias", "must not be a number (it would read as a version)");
        var model = await FindModelAsync(name, ct);
        if (!await db.ModelVersions.AnyAsync(v => v.ModelId == model.Id && v.Version == version, ct))
            throw ProblemException.Invalid("version", $"model '{name}' has no version {version}");
        var row = await db.ModelAliases.FirstOrDefaultAsync(a => a.ModelId == model.Id && a.Alias == alias, ct);
        if (row?.Version != version)
        {
            if (row is null) db.ModelAliases.Add(new ModelAliasRow { ModelId = model.Id, Alias = alias, Version = version });
            else row.Version = version;
            db.ModelAliasEvents.Add(new ModelAliasEventRow { ModelId = model.Id, Alias = alias, Version = version, Time = clock.GetUtcNow(), Actor = actor });
            await db.SaveChangesAsync(ct);
        }
        return await GetVersionAsync(new ModelRef(name, version, null), ct);
    }

    public async Task DeleteAliasAsync(string name, string alias, CancellationToken ct, string? actor = null)
    {
        var model = await FindModelAsync(name, ct);
        var deleted = await db.ModelAliases.Where(a => a.ModelId == model.Id && a.Alias == alias).ExecuteDeleteAsync(ct);
        if (deleted == 0) throw ProblemException.NotFound($"alias '{alias}' of model '{name}'");
        db.ModelAliasEvents.Add(new ModelAliasEventRow { ModelId = model.Id, Alias = alias, Time = clock.GetUtcNow(), Actor = actor });
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Every move of the model's aliases, newest first.</summary>
    public async Task<IReadOnlyList<AliasChange>> AliasHistoryAsync(string name, CancellationToken ct, int limit = 200)
    {
        var model = await FindModelAsync(name, ct);
        return await db.ModelAliasEvents.AsNoTracking().Where(e => e.ModelId == model.Id).OrderByDescending(e => e.Id).Take(limit)
            .Select(e => new AliasChange(e.Alias, e.Version, e.Time, e.Actor)).ToListAsync(ct);
    }

    /// <summary>Points an alias back at the version it pointed to before its current one (the champion before the last promotion).</summary>
    public async Task<ModelVersionInfo> RollBackAliasAsync(string name, string alias, CancellationToken ct, string? actor = null)
    {
        var model = await FindModelAsync(name, ct);
        var current = await db.ModelAliases.AsNoTracking().FirstOrDefaultAsync(a => a.ModelId == model.Id && a.Alias == alias, ct)
            ?? throw ProblemException.NotFound($"alias '{alias}' of model '{name}'");
        var earlier = await db.ModelAliasEvents.AsNoTracking()
            .Where(e => e.ModelId == model.Id && e.Alias == alias && e.Version != null && e.Version != current.Version)
            .OrderByDescending(e => e.Id).Select(e => e.Version).FirstOrDefaultAsync(ct);
        if (earlier is not { } version || !await db.ModelVersions.AnyAsync(v => v.ModelId == model.Id && v.Version == version, ct))
            throw ProblemException.Conflict($"alias '{alias}' of model '{name}' has pointed at no other version: there is nothing to roll back to");
        return await SetAliasAsync(name, alias, version, ct, actor);
    }

    /// <summary>A model of the scope's project; with <paramref name="foreign"/>, also <c>project/name</c>, another project's under a grant (to read and use, never to change).</summary>
    private async Task<ModelRow> FindModelAsync(string name, CancellationToken ct, bool tracked = false, bool foreign = false)
    {
        var local = Projects.SplitQualified(name).Name;
        if (foreign && ProjectService.Foreign(db, name) is { } project)
        {
            await ProjectService.CheckGrantAsync(db, project, ProjectService.ModelGrant, local, ct);
            return await db.Models.AsNoTracking().IgnoreQueryFilters().FirstOrDefaultAsync(m => m.Project == project && m.Name == local, ct)
                ?? throw ProblemException.NotFound($"model '{name}'");
        }
        ProblemException.CheckName("name", foreign ? local : name);
        var query = tracked ? db.Models : db.Models.AsNoTracking();
        return await query.FirstOrDefaultAsync(m => m.Name == local, ct) ?? throw ProblemException.NotFound($"model '{name}'");
    }

    private async Task<RegisteredModelInfo> ToInfoAsync(ModelRow row, CancellationToken ct)
    {
        var aliases = await db.ModelAliases.AsNoTracking().Where(a => a.ModelId == row.Id).ToDictionaryAsync(a => a.Alias, a => a.Version, ct);
        var latest = await db.ModelVersions.Where(v => v.ModelId == row.Id).MaxAsync(v => (int?)v.Version, ct) ?? 0;
        return new RegisteredModelInfo(row.Name, row.Description, JsonColumns.ReadTags(row.TagsJson), aliases, latest, row.CreatedAt);
    }

    private async Task<ModelVersionInfo> ToInfoAsync(ModelRow model, ModelVersionRow row, CancellationToken ct)
    {
        var aliases = await db.ModelAliases.AsNoTracking().Where(a => a.ModelId == model.Id && a.Version == row.Version)
            .OrderBy(a => a.Alias).Select(a => a.Alias).ToListAsync(ct);
        // Another project's model (used under a grant) shows its run's id, not the run: the grant is for the model.
        var foreign = db.CurrentProject is { } here && model.Project != here;
        var run = foreign ? null : await tracking.GetRunAsync(row.RunId, ct);
        var lineage = run is null ? new ModelLineage(row.RunId, null, null, []) : new ModelLineage(run.Id, run.ExperimentId, run.ExperimentName, run.Inputs);
        return new ModelVersionInfo(foreign ? Projects.Qualified(model.Project, model.Name) : model.Name, row.Version, row.RunId, row.ArtifactPath, row.Sha256, row.Size, row.Description,
            JsonColumns.ReadTags(row.TagsJson), aliases, lineage, row.CreatedAt);
    }

    private static Dictionary<string, string> Merge(Dictionary<string, string> current, IReadOnlyDictionary<string, string> changes)
    {
        foreach (var (k, v) in changes)
        {
            if (Names.Validate(k) is { } error) throw ProblemException.Invalid($"tags.{k}", $"key {error}");
            // An empty value removes the tag.
            if (string.IsNullOrEmpty(v)) current.Remove(k);
            else current[k] = v;
        }
        return current;
    }
}
