using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Data;
using Stratus.Server.Kernel;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.Datasets;

/// <summary>Uploads, versions, profiles and deletes datasets.</summary>
public sealed partial class DatasetService(StratusDb db, IBlobStore blobs, TimeProvider clock, ILogger<DatasetService> logger)
{
    /// <summary>
    /// Stores an upload as a new version, or returns the existing version with the same bytes. The body is streamed
    /// to a scratch file while it is hashed and (for CSV) checked; nothing becomes visible until the version row commits.
    /// </summary>
    /// <param name="runId">The run that produced the data (a batch inference job), recorded as the version's lineage.</param>
    public async Task<DatasetVersionInfo> UploadAsync(string name, SourceFormat format, char delimiter, Stream body, string? actor, CancellationToken ct, string? runId = null)
    {
        ProblemException.CheckName("name", name);
        var source = blobs.NewTempPath(format == SourceFormat.Csv ? ".csv" : ".parquet");
        var parquet = blobs.NewTempPath(".parquet");
        try
        {
            var started = clock.GetTimestamp();
            var sourceSha = await ReceiveAsync(body, source, format == SourceFormat.Csv ? new CsvValidator(delimiter) : null, ct);

            if (await FindSameBytesAsync(name, sourceSha, ct) is { } existing) return ToInfo(name, existing, created: false);

            var received = clock.GetElapsedTime(started);
            var tempDir = Path.GetDirectoryName(parquet)!;
            var (ingest, profile) = await Task.Run(() => DatasetIngestor.Ingest(source, format, parquet, tempDir, delimiter), ct);
            if (ingest.Rows == 0) throw new DataFormatException("the file has no data rows");
            var converted = clock.GetElapsedTime(started);
            var blob = await blobs.ImportAsync(parquet, ct);
            var version = await CommitVersionAsync(name, sourceSha, format, blob, ingest, profile, actor, runId, ct);
            var total = clock.GetElapsedTime(started);
            LogIngested(logger, name, version.Version, ingest.Rows, received.TotalMilliseconds, (converted - received).TotalMilliseconds, (total - converted).TotalMilliseconds);
            return version;
        }
        finally
        {
            File.Delete(source);
            File.Delete(parquet);
        }
    }

    private async Task<DatasetVersionInfo> CommitVersionAsync(
        string name, string sourceSha, SourceFormat format, BlobRef blob, IngestResult ingest,
        IReadOnlyList<ColumnProfile> profile, string? actor, string? runId, CancellationToken ct)
    {
        // Two uploads to one name can race for the next version number; the unique index decides and the loser retries.
        for (var attempt = 0; ; attempt++)
        {
            db.ChangeTracker.Clear();
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var now = clock.GetUtcNow();
            var dataset = await db.Datasets.FirstOrDefaultAsync(d => d.Name == name, ct);
            if (dataset is null)
            {
                dataset = new DatasetRow { Name = name, CreatedAt = now };
                db.Datasets.Add(dataset);
            }
            else if (await FindSameBytesAsync(name, sourceSha, ct) is { } same)
            {
                return ToInfo(name, same, created: false); // a concurrent upload stored the same bytes meanwhile
            }
            dataset.DeletedAt = null;
            if (!await db.Blobs.AnyAsync(b => b.Sha256 == blob.Sha256, ct))
                db.Blobs.Add(new BlobRow { Sha256 = blob.Sha256, Size = blob.Size, CreatedAt = now });
            var latest = dataset.Id == 0 ? 0 : await db.DatasetVersions.Where(v => v.DatasetId == dataset.Id).MaxAsync(v => (int?)v.Version, ct) ?? 0;
            var row = new DatasetVersionRow
            {
                Dataset = dataset,
                Version = latest + 1,
                SourceSha256 = sourceSha,
                ParquetSha256 = blob.Sha256,
                SizeBytes = blob.Size,
                Rows = ingest.Rows,
                SourceFormat = format == SourceFormat.Csv ? "csv" : "parquet",
                ColumnsJson = JsonSerializer.Serialize(ingest.Columns, ServerJson.Default.IReadOnlyListColumnSchema),
                ProfileJson = JsonSerializer.Serialize(profile, StratusJsonContext.Default.IReadOnlyListColumnProfile),
                CreatedAt = now,
                CreatedBy = actor,
                RunId = runId,
            };
            db.DatasetVersions.Add(row);
            try
            {
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                return ToInfo(name, row, created: true);
            }
            catch (DbUpdateException) when (attempt < 5)
            {
                await tx.RollbackAsync(ct);
            }
        }
    }

    private Task<DatasetVersionRow?> FindSameBytesAsync(string name, string sourceSha, CancellationToken ct) =>
        db.DatasetVersions.AsNoTracking().FirstOrDefaultAsync(
            v => v.Dataset.Name == name && v.Dataset.DeletedAt == null && v.SourceSha256 == sourceSha && v.DeletedAt == null, ct);

    private static async Task<string> ReceiveAsync(Stream body, string path, CsvValidator? validator, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 17);
        try
        {
            await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                var chunk = buffer.AsMemory(0, read);
                validator?.Append(chunk.Span);
                hash.AppendData(chunk.Span);
                await file.WriteAsync(chunk, ct);
            }
            validator?.Complete();
            if (file.Length == 0) throw new DataFormatException("the file is empty");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public async Task<Page<DatasetInfo>> ListAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await ToInfos(db.Datasets.AsNoTracking().Where(d => d.DeletedAt == null).OrderBy(d => d.Name).Skip(offset).Take(size + 1)).ToListAsync(ct);
        return Paging.Build(rows, offset, size);
    }

    public async Task<DatasetInfo> GetAsync(string name, CancellationToken ct) =>
        await ToInfos(db.Datasets.AsNoTracking().Where(d => d.Name == name && d.DeletedAt == null)).FirstOrDefaultAsync(ct)
            ?? throw ProblemException.NotFound($"dataset '{name}'");

    /// <summary>Whether a dataset of that name exists (not deleted) with at least one version.</summary>
    public Task<bool> ExistsAsync(string name, CancellationToken ct) =>
        db.DatasetVersions.AnyAsync(v => v.Dataset.Name == name && v.DeletedAt == null && v.Dataset.DeletedAt == null, ct);

    private static IQueryable<DatasetInfo> ToInfos(IQueryable<DatasetRow> datasets) =>
        datasets.Select(d => new DatasetInfo(
            d.Name,
            d.Description,
            d.Versions.Where(v => v.DeletedAt == null).Max(v => (int?)v.Version) ?? 0,
            d.Versions.Count(v => v.DeletedAt == null),
            d.CreatedAt));

    public async Task<Page<DatasetVersionInfo>> ListVersionsAsync(string name, int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        await GetAsync(name, ct);
        var rows = await db.DatasetVersions.AsNoTracking()
            .Where(v => v.Dataset.Name == name && v.DeletedAt == null)
            .OrderByDescending(v => v.Version).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(r => ToInfo(name, r, false)), offset, size);
    }

    /// <summary>Resolves <c>NAME</c> (latest) or <c>NAME:VERSION</c> to a live version row.</summary>
    /// <remarks><c>project/NAME</c> names another project's dataset, read under a grant (<see cref="ProjectService.CheckGrantAsync"/>).</remarks>
    public async Task<DatasetVersionRow> ResolveAsync(DatasetRef reference, CancellationToken ct)
    {
        var name = Projects.SplitQualified(reference.Name).Name;
        var versions = db.DatasetVersions.AsNoTracking();
        if (ProjectService.Foreign(db, reference.Name) is { } project)
        {
            await ProjectService.CheckGrantAsync(db, project, ProjectService.DatasetGrant, name, ct);
            versions = versions.IgnoreQueryFilters().Where(v => v.Dataset.Project == project);
        }
        var query = versions.Include(v => v.Dataset)
            .Where(v => v.Dataset.Name == name && v.DeletedAt == null && v.Dataset.DeletedAt == null);
        var row = reference.Version is { } version
            ? await query.FirstOrDefaultAsync(v => v.Version == version, ct)
            : await query.OrderByDescending(v => v.Version).FirstOrDefaultAsync(ct);
        return row ?? throw ProblemException.NotFound($"dataset version '{reference}'");
    }

    public async Task<DatasetVersionInfo> GetVersionAsync(DatasetRef reference, CancellationToken ct) =>
        ToInfo(reference.Name, await ResolveAsync(reference, ct), false);

    public async Task<IReadOnlyList<ColumnProfile>> GetProfileAsync(DatasetRef reference, CancellationToken ct) =>
        ProfileOf(await ResolveAsync(reference, ct));

    /// <summary>The first <paramref name="limit"/> rows of a version (1 to 1,000), values as text.</summary>
    public async Task<DatasetPreview> PreviewAsync(DatasetRef reference, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) throw ProblemException.Invalid("limit", $"is {limit}; 1 to 1,000 rows");
        var row = await ResolveAsync(reference, ct);
        var parquet = await blobs.GetLocalCopyAsync(row.ParquetSha256, ct);
        return await Task.Run(() =>
        {
            using var connection = DuckDb.Open(blobs.TempDirectory, threads: 1);
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM read_parquet({DuckDb.Literal(parquet)}) LIMIT {limit}";
            using var reader = command.ExecuteReader();
            var columns = SqlColumns.OfParquet(parquet).Names; // as written: DuckDB's own names fold case
            var rows = new List<IReadOnlyList<string?>>();
            while (reader.Read())
            {
                rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null
                    : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))]);
            }
            return new DatasetPreview(columns, rows);
        }, ct);
    }

    /// <summary>The stored column profile of a version row already resolved.</summary>
    public static IReadOnlyList<ColumnProfile> ProfileOf(DatasetVersionRow row) =>
        JsonSerializer.Deserialize(row.ProfileJson, StratusJsonContext.Default.IReadOnlyListColumnProfile) ?? [];

    /// <summary>Who made a dataset: the one who uploaded its first version.</summary>
    public async Task<string?> OwnerAsync(string name, CancellationToken ct) =>
        await db.DatasetVersions.AsNoTracking().Where(v => v.Dataset.Name == name && v.Dataset.DeletedAt == null).OrderBy(v => v.Version).Select(v => v.CreatedBy).FirstOrDefaultAsync(ct);

    /// <summary>Soft-deletes one version; its blob is collected once nothing else references it.</summary>
    public async Task DeleteVersionAsync(DatasetRef reference, CancellationToken ct)
    {
        var row = await ResolveAsync(reference, ct);
        await db.DatasetVersions.Where(v => v.Id == row.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(v => v.DeletedAt, clock.GetUtcNow()), ct);
    }

    /// <summary>Soft-deletes a dataset and all its versions. Version numbers are never reused.</summary>
    public async Task DeleteAsync(string name, CancellationToken ct)
    {
        var dataset = await db.Datasets.FirstOrDefaultAsync(d => d.Name == name && d.DeletedAt == null, ct)
            ?? throw ProblemException.NotFound($"dataset '{name}'");
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await db.DatasetVersions.Where(v => v.DatasetId == dataset.Id && v.DeletedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(v => v.DeletedAt, now), ct);
        dataset.DeletedAt = now;
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Writes a version as CSV to a scratch file and returns its path; the caller deletes it.</summary>
    public async Task<string> ExportCsvAsync(DatasetVersionRow row, CancellationToken ct)
    {
        var parquet = await blobs.GetLocalCopyAsync(row.ParquetSha256, ct);
        var csv = blobs.NewTempPath(".csv");
        var cells = csv + ".rows";
        try
        {
            await Task.Run(() =>
            {
                using var connection = DuckDb.Open(Path.GetDirectoryName(csv)!);
                using var command = connection.CreateCommand();
                var sql = SqlColumns.OfParquet(parquet);
                command.CommandText = $"COPY (SELECT {CsvCells(ColumnsOf(row), sql)} FROM {sql.ScanParquet(parquet)}) TO {DuckDb.Literal(cells)} (HEADER false, DELIMITER ',')";
                command.ExecuteNonQuery();
                // The header as written: DuckDB's would fold names that differ only in case.
                using var output = new FileStream(csv, FileMode.CreateNew, FileAccess.Write);
                output.Write(System.Text.Encoding.UTF8.GetBytes(string.Join(',', sql.Names.Select(CsvValidator.Field)) + "\n"));
                using (var input = File.OpenRead(cells)) input.CopyTo(output);
            }, ct);
        }
        catch
        {
            File.Delete(csv);
            throw;
        }
        finally
        {
            File.Delete(cells);
        }
        return csv;
    }

    /// <summary>
    /// The columns of a CSV export: a text cell that a spreadsheet would run as a formula (starting with =, +, -, @, a
    /// tab or a carriage return) gets a leading apostrophe, as OWASP advises against CSV injection; numbers and the
    /// Parquet download are left as they are.
    /// </summary>
    private static string CsvCells(IReadOnlyList<ColumnSchema> columns, SqlColumns sql) => columns.Count == 0 ? "*" : string.Join(", ", columns.Select(c =>
    {
        var id = sql[c.Name];
        return c.Type == "VARCHAR" ? $"CASE WHEN regexp_matches({id}, '^[-=+@\t\r]') THEN '''' || {id} ELSE {id} END AS {id}" : id;
    }));

    internal static DatasetVersionInfo ToInfo(string name, DatasetVersionRow r, bool created) => new(
        name, r.Version, r.Rows, r.SourceSha256, r.ParquetSha256, r.SizeBytes, r.SourceFormat, ColumnsOf(r), r.CreatedAt, r.CreatedBy, created, r.RunId);

    /// <summary>A version's columns: names and DuckDB types.</summary>
    public static IReadOnlyList<ColumnSchema> ColumnsOf(DatasetVersionRow r) =>
        JsonSerializer.Deserialize(r.ColumnsJson, ServerJson.Default.IReadOnlyListColumnSchema) ?? [];

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored {Name}:{Version}, {Rows} rows: received in {ReceiveMs:F0} ms, converted and profiled in {ConvertMs:F0} ms, stored in {StoreMs:F0} ms")]
    private static partial void LogIngested(ILogger logger, string name, int version, long rows, double receiveMs, double convertMs, double storeMs);
}
