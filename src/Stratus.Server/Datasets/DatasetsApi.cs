using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Ml.Data;
using Stratus.Server.Kernel;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.Datasets;

/// <summary>Routes of <c>/api/v1/datasets</c>.</summary>
public static class DatasetsApi
{
    /// <summary>The datasets capability's services.</summary>
    public static void AddStratusDatasets(this IServiceCollection services) => services.AddScoped<DatasetService>();

    public static RouteGroupBuilder MapDatasetsApi(this IEndpointRouteBuilder routes, long maxUploadBytes)
    {
        var api = routes.MapGroup("/api/v1/datasets").WithTags("Datasets");
        api.MapGet("/", ListDatasets).WithName("ListDatasets").WithSummary("List datasets");
        api.MapGet("/{name}", GetDataset).WithName("GetDataset").WithSummary("Show a dataset");
        api.MapDelete("/{name}", DeleteDataset).WithName("DeleteDataset").WithSummary("Soft-delete a dataset and all its versions")
            .RequireAuthorization(Policies.Editor);
        api.MapPost("/{name}/versions", Upload).WithName("UploadDatasetVersion")
            .WithSummary("Upload a CSV or Parquet file as a new version (the same bytes return the existing version)")
            .Accepts<Stream>("text/csv", "application/octet-stream", "application/vnd.apache.parquet")
            .WithMetadata(new RawBodyMetadata(maxUploadBytes))
            .RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/versions", ListVersions).WithName("ListDatasetVersions").WithSummary("List a dataset's versions, newest first");
        api.MapGet("/{name}/versions/{version}", GetVersion).WithName("GetDatasetVersion").WithSummary("Show a version ('latest' or a number)");
        api.MapGet("/{name}/versions/{version}/profile", GetProfile).WithName("GetDatasetProfile").WithSummary("Column statistics of a version");
        api.MapGet("/{name}/versions/{version}/preview", Preview).WithName("PreviewDatasetVersion").WithSummary("The first rows of a version (limit: 1 to 1,000, default 20), values as text")
            .WithMetadata(new SensitiveReadMetadata());
        api.MapGet("/{name}/versions/{version}/content", Download).WithName("DownloadDatasetVersion")
            .WithSummary("Download a version as Parquet (default) or CSV; the X-Content-SHA256 header carries the hash of the bytes for Parquet")
            .WithMetadata(new SensitiveReadMetadata());
        api.MapDelete("/{name}/versions/{version}", DeleteVersion).WithName("DeleteDatasetVersion").WithSummary("Soft-delete a version")
            .RequireAuthorization(Policies.Editor);
        return api;
    }

    private static Task<Page<DatasetInfo>> ListDatasets(DatasetService datasets, int? page_size, string? page_token, CancellationToken ct) =>
        datasets.ListAsync(page_size, page_token, ct);

    private static async Task<Ok<DatasetInfo>> GetDataset(string name, DatasetService datasets, CancellationToken ct) =>
        TypedResults.Ok(await datasets.GetAsync(ProblemException.CheckName("name", name), ct));

    private static async Task<NoContent> DeleteDataset(string name, ClaimsPrincipal user, DatasetService datasets, CancellationToken ct)
    {
        Ownership.Check(user, await datasets.OwnerAsync(ProblemException.CheckName("name", name), ct), $"dataset '{name}'");
        await datasets.DeleteAsync(name, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<DatasetVersionInfo>, Ok<DatasetVersionInfo>>> Upload(
        string name, HttpContext context, DatasetService datasets, string? format, string? delimiter, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        var sourceFormat = (format?.ToLowerInvariant(), context.Request.ContentType?.ToLowerInvariant()) switch
        {
            ("csv", _) => SourceFormat.Csv,
            ("parquet", _) => SourceFormat.Parquet,
            (null, { } type) when type.Contains("parquet", StringComparison.Ordinal) => SourceFormat.Parquet,
            (null, _) => SourceFormat.Csv,
            _ => throw ProblemException.Invalid("format", $"'{format}' is not supported; use csv or parquet"),
        };
        var separator = delimiter switch
        {
            null or "" => ',',
            "\\t" or "tab" => '\t',
            { Length: 1 } d when d[0] is not '"' && d[0] is >= ' ' and < (char)127 => d[0],
            _ => throw ProblemException.Invalid("delimiter", "must be one printable ASCII character other than a quote (or 'tab')"),
        };
        var version = await datasets.UploadAsync(name, sourceFormat, separator, context.Request.Body, context.User.Actor(), ct);
        return version.Created
            ? TypedResults.Created($"/api/v1/datasets/{name}/versions/{version.Version}", version)
            : TypedResults.Ok(version);
    }

    private static Task<Page<DatasetVersionInfo>> ListVersions(string name, DatasetService datasets, int? page_size, string? page_token, CancellationToken ct) =>
        datasets.ListVersionsAsync(ProblemException.CheckName("name", name), page_size, page_token, ct);

    private static async Task<Ok<DatasetVersionInfo>> GetVersion(string name, string version, DatasetService datasets, CancellationToken ct) =>
        TypedResults.Ok(await datasets.GetVersionAsync(Ref(name, version), ct));

    private static async Task<Ok<IReadOnlyList<ColumnProfile>>> GetProfile(string name, string version, DatasetService datasets, CancellationToken ct) =>
        TypedResults.Ok(await datasets.GetProfileAsync(Ref(name, version), ct));

    private static async Task<Ok<DatasetPreview>> Preview(string name, string version, int? limit, DatasetService datasets, CancellationToken ct) =>
        TypedResults.Ok(await datasets.PreviewAsync(Ref(name, version), limit ?? 20, ct));

    private static async Task<IResult> Download(string name, string version, string? format, HttpContext context, DatasetService datasets, IBlobStore blobs, CancellationToken ct)
    {
        var row = await datasets.ResolveAsync(Ref(name, version), ct);
        var fileName = $"{name}-v{row.Version}";
        switch (format?.ToLowerInvariant())
        {
            case null or "parquet":
                context.Response.Headers["X-Content-SHA256"] = row.ParquetSha256;
                return TypedResults.Stream(await blobs.OpenReadAsync(row.ParquetSha256, ct), "application/vnd.apache.parquet", fileName + ".parquet");
            case "csv":
                var csv = await datasets.ExportCsvAsync(row, ct);
                var stream = new FileStream(csv, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                return TypedResults.Stream(stream, "text/csv", fileName + ".csv");
            default:
                throw ProblemException.Invalid("format", $"'{format}' is not supported; use parquet or csv");
        }
    }

    private static async Task<NoContent> DeleteVersion(string name, string version, ClaimsPrincipal user, DatasetService datasets, CancellationToken ct)
    {
        var reference = Ref(name, version);
        Ownership.Check(user, (await datasets.ResolveAsync(reference, ct)).CreatedBy ?? await datasets.OwnerAsync(name, ct), $"version {version} of dataset '{name}'");
        await datasets.DeleteVersionAsync(reference, ct);
        return TypedResults.NoContent();
    }

    private static DatasetRef Ref(string name, string version)
    {
        ProblemException.CheckName("name", name);
        if (version == "latest") return new DatasetRef(name, null);
        return int.TryParse(version, out var v) && v > 0
            ? new DatasetRef(name, v)
            : throw ProblemException.Invalid("version", $"'{version}' is not a version number or 'latest'");
    }
}
