using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Stratus.Server.Kernel;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.Registry;

/// <summary>Routes of <c>/api/v1/models</c>.</summary>
public static class RegistryApi
{
    /// <summary>The registry capability's services.</summary>
    public static void AddStratusRegistry(this IServiceCollection services) => services.AddScoped<RegistryService>();

    public static void MapRegistryApi(this IEndpointRouteBuilder routes, long maxUploadBytes)
    {
        var api = routes.MapGroup("/api/v1/models").WithTags("Models");
        api.MapPost("/", CreateModel).WithName("CreateModel").WithSummary("Register a model name").RequireAuthorization(Policies.Editor);
        api.MapGet("/", ListModels).WithName("ListModels").WithSummary("List registered models");
        api.MapGet("/resolve", Resolve).WithName("ResolveModel").WithSummary("Resolve a reference NAME, NAME:VERSION or NAME@ALIAS to a version");
        api.MapGet("/{name}", GetModel).WithName("GetModel").WithSummary("Show a registered model");
        api.MapPatch("/{name}", UpdateModel).WithName("UpdateModel").WithSummary("Change description or tags (an empty tag value removes it)").RequireAuthorization(Policies.Editor);
        api.MapPost("/{name}/versions", CreateVersion).WithName("CreateModelVersion").WithSummary("Create a version from a run's artifact").RequireAuthorization(Policies.Editor);
        api.MapPost("/{name}/import", Import).WithName("ImportModel")
            .WithSummary("Import an ONNX model as a new version: multipart/form-data with the file in 'model' and an optional JSON signature in 'signature'; refused at once if it cannot be served")
            .Accepts<ImportModelForm>("multipart/form-data").WithMetadata(new RawBodyMetadata(maxUploadBytes)).RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/versions", ListVersions).WithName("ListModelVersions").WithSummary("List versions, newest first");
        api.MapGet("/{name}/versions/{version:int}", GetVersion).WithName("GetModelVersion").WithSummary("Show a version with its lineage");
        api.MapPatch("/{name}/versions/{version:int}", UpdateVersion).WithName("UpdateModelVersion").WithSummary("Change a version's description or tags").RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/versions/{version:int}/content", Download).WithName("DownloadModelVersion").WithSummary("Download the version's artifact")
            .WithMetadata(new SensitiveReadMetadata());
        api.MapPut("/{name}/aliases/{alias}", SetAlias).WithName("SetModelAlias").WithSummary("Point an alias such as 'champion' at a version").RequireAuthorization(Policies.Editor);
        api.MapDelete("/{name}/aliases/{alias}", DeleteAlias).WithName("DeleteModelAlias").WithSummary("Remove an alias").RequireAuthorization(Policies.Editor);
        api.MapPost("/{name}/aliases/{alias}/rollback", RollBackAlias).WithName("RollBackModelAlias")
            .WithSummary("Point an alias back at the version it pointed to before its current one").RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/aliases", AliasHistory).WithName("ListModelAliasChanges").WithSummary("Every move of the model's aliases, newest first");
    }

    private static async Task<Created<RegisteredModelInfo>> CreateModel(CreateModelRequest request, RegistryService registry, CancellationToken ct)
    {
        var model = await registry.CreateModelAsync(request, ct);
        return TypedResults.Created($"/api/v1/models/{model.Name}", model);
    }

    private static Task<Page<RegisteredModelInfo>> ListModels(RegistryService registry, int? page_size, string? page_token, CancellationToken ct) =>
        registry.ListModelsAsync(page_size, page_token, ct);

    private static async Task<Ok<ModelVersionInfo>> Resolve(string? @ref, RegistryService registry, CancellationToken ct) =>
        ModelRef.TryParse(@ref, out var reference, out var error)
            ? TypedResults.Ok(await registry.GetVersionAsync(reference, ct))
            : throw ProblemException.Invalid("ref", error!);

    private static async Task<Ok<RegisteredModelInfo>> GetModel(string name, RegistryService registry, CancellationToken ct) =>
        TypedResults.Ok(await registry.GetModelAsync(name, ct));

    // Changes to an existing model (its description, versions, aliases) are its owner's or an admin's: RegistryService.CheckOwnerAsync.
    private static async Task<Ok<RegisteredModelInfo>> UpdateModel(string name, UpdateModelRequest request, ClaimsPrincipal user, RegistryService registry, CancellationToken ct)
    {
        await registry.CheckOwnerAsync(name, user, ct);
        return TypedResults.Ok(await registry.UpdateModelAsync(name, request, ct));
    }

    private static async Task<Created<ModelVersionInfo>> CreateVersion(string name, CreateModelVersionRequest request, HttpContext context, RegistryService registry, CancellationToken ct)
    {
        await registry.CheckOwnerAsync(name, context.User, ct);
        var version = await registry.CreateVersionAsync(name, request, context.User.Actor(), ct);
        return TypedResults.Created($"/api/v1/models/{name}/versions/{version.Version}", version);
    }

    private const int MaxFieldBytes = 4 << 20;

    private static async Task<Created<ModelVersionInfo>> Import(string name, HttpContext context, RegistryService registry, IBlobStore blobs, CancellationToken ct)
    {
        if (!context.Request.HasFormContentType
            || !MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type) || HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 } boundary)
        {
            throw ProblemException.Invalid("model", "send multipart/form-data with the ONNX file in a part named 'model'");
        }
        await registry.CheckOwnerAsync(name, context.User, ct);
        // The parts are read here, not by ASP.NET's form reader, which buffers large files in the system's temp
        // directory (left there by a crash): the model goes to the server's own scratch space, cleaned at start.
        var scratch = blobs.NewTempPath(".onnx");
        try
        {
            string? fileName = null;
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            var reader = new MultipartReader(boundary, context.Request.Body) { HeadersLengthLimit = 16 << 10 };
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                var part = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (part == "model" && disposition.IsFileDisposition())
                {
                    fileName = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? HeaderUtilities.RemoveQuotes(disposition.FileNameStar).Value ?? "model.onnx";
                    await using var file = File.Create(scratch);
                    await section.Body.CopyToAsync(file, ct);
                }
                else if (part is "signature" or "description")
                {
                    // Read up to one byte past the limit, so a field is held only as far as it may go.
                    using var text = new MemoryStream();
                    var buffer = new byte[81920];
                    for (int read; (read = await section.Body.ReadAsync(buffer, ct)) > 0;)
                    {
                        text.Write(buffer, 0, read);
                        if (text.Length > MaxFieldBytes) throw ProblemException.Invalid(part, "is longer than 4 MiB");
                    }
                    fields[part] = System.Text.Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
                }
            }
            if (fileName is null) throw ProblemException.Invalid("model", "the part named 'model' with the ONNX file is missing");
            OnnxSignature? signature = null;
            if (fields.TryGetValue("signature", out var json) && !string.IsNullOrWhiteSpace(json))
            {
                try
                {
                    signature = JsonSerializer.Deserialize(json, StratusJsonContext.Default.OnnxSignature);
                }
                catch (JsonException ex)
                {
                    throw ProblemException.Invalid("signature", $"is not a valid signature: {ex.Message}");
                }
            }
            var onnx = await File.ReadAllBytesAsync(scratch, ct); // ONNX Runtime takes the model as one array
            var version = await registry.ImportOnnxAsync(name, onnx, signature, Path.GetFileName(fileName), fields.GetValueOrDefault("description"), context.User.Actor(), ct);
            return TypedResults.Created($"/api/v1/models/{name}/versions/{version.Version}", version);
        }
        finally
        {
            File.Delete(scratch);
        }
    }

    private static Task<Page<ModelVersionInfo>> ListVersions(string name, RegistryService registry, int? page_size, string? page_token, CancellationToken ct) =>
        registry.ListVersionsAsync(name, page_size, page_token, ct);

    private static async Task<Ok<ModelVersionInfo>> GetVersion(string name, int version, RegistryService registry, CancellationToken ct) =>
        TypedResults.Ok(await registry.GetVersionAsync(new ModelRef(name, version, null), ct));

    private static async Task<Ok<ModelVersionInfo>> UpdateVersion(string name, int version, UpdateModelRequest request, ClaimsPrincipal user, RegistryService registry, CancellationToken ct)
    {
        await registry.CheckOwnerAsync(name, user, ct);
        return TypedResults.Ok(await registry.UpdateVersionAsync(new ModelRef(name, version, null), request, ct));
    }

    private static async Task<FileStreamHttpResult> Download(string name, int version, HttpContext context, RegistryService registry, IBlobStore blobs, CancellationToken ct)
    {
        var info = await registry.GetVersionAsync(new ModelRef(name, version, null), ct);
        context.Response.Headers["X-Content-SHA256"] = info.Sha256;
        return TypedResults.Stream(await blobs.OpenReadAsync(info.Sha256, ct), "application/octet-stream", info.ArtifactPath.Split('/')[^1]);
    }

    private static async Task<Ok<ModelVersionInfo>> SetAlias(string name, string alias, SetAliasRequest request, RegistryService registry, ClaimsPrincipal user, CancellationToken ct)
    {
        await registry.CheckOwnerAsync(name, user, ct);
        return TypedResults.Ok(await registry.SetAliasAsync(name, alias, request.Version, ct, user.Actor()));
    }

    private static async Task<NoContent> DeleteAlias(string name, string alias, RegistryService registry, ClaimsPrincipal user, CancellationToken ct)
    {
        await registry.CheckOwnerAsync(name, user, ct);
        await registry.DeleteAliasAsync(name, alias, ct, user.Actor());
        return TypedResults.NoContent();
    }

    private static async Task<Ok<ModelVersionInfo>> RollBackAlias(string name, string alias, RegistryService registry, ClaimsPrincipal user, CancellationToken ct)
    {
        await registry.CheckOwnerAsync(name, user, ct);
        return TypedResults.Ok(await registry.RollBackAliasAsync(name, alias, ct, user.Actor()));
    }

    private static Task<IReadOnlyList<AliasChange>> AliasHistory(string name, RegistryService registry, CancellationToken ct) => registry.AliasHistoryAsync(name, ct);
}

/// <summary>The parts of an ONNX import (documents the multipart body).</summary>
/// <param name="Model">The ONNX file.</param>
/// <param name="Signature">Optional: an <see cref="OnnxSignature"/> as JSON.</param>
/// <param name="Description">Optional: what this version is.</param>
internal sealed record ImportModelForm(IFormFile Model, string? Signature, string? Description);
