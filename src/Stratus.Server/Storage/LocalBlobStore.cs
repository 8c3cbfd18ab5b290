namespace Stratus.Server.Storage;

/// <summary>
/// <see cref="IBlobStore"/> on a file system: <c>&lt;root&gt;/sha256/ab/abcdef…</c>. The root may be a shared file
/// system (NFS, a cluster file system) that several nodes use at once: a blob is first written beside its final name
/// (<c>.partial</c>, on the root's own file system even when scratch space is elsewhere) and renamed into place, which
/// is atomic, so every node sees the whole blob or none; the same bytes written twice are the same file.
/// </summary>
public sealed class LocalBlobStore : IBlobStore
{
    private const string PartialSuffix = ".partial";
    private readonly string _root;
    private readonly IDataKeys? _keys;
    private readonly BlobCache? _copies;

    /// <summary>Creates the store under <paramref name="root"/> with this node's scratch files in <paramref name="tempDirectory"/>.</summary>
    /// <param name="keys">Encryption at rest: the blobs' data keys; null stores and reads plaintext only.</param>
    /// <param name="copies">Where the plaintext copies of encrypted blobs go for the engines that read files (a plaintext blob is its own copy).</param>
    public LocalBlobStore(string root, string tempDirectory, IDataKeys? keys = null, BlobCache? copies = null)
    {
        _root = Path.GetFullPath(Path.Combine(root, "sha256"));
        TempDirectory = Path.GetFullPath(tempDirectory);
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(TempDirectory);
        _keys = keys;
        _copies = copies;
        if (keys is not null && copies is null) throw new ArgumentException("an encrypting store needs a cache for plaintext copies", nameof(copies));
    }

    /// <inheritdoc />
    public string Location => Path.GetDirectoryName(_root)!;

    /// <inheritdoc />
    public string TempDirectory { get; }

    /// <inheritdoc />
    public string NewTempPath(string extension = "") => Path.Combine(TempDirectory, Guid.NewGuid().ToString("N") + extension);

    /// <inheritdoc />
    public async Task<BlobRef> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        var temp = NewTempPath();
        try
        {
            var written = await BlobStoreExtensions.WriteAsync(content, temp, _keys, cancellationToken);
            await CommitAsync(written, temp, cancellationToken);
            return new BlobRef(written.Sha256, written.Size);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public async Task<BlobRef> ImportAsync(string tempPath, CancellationToken cancellationToken)
    {
        if (!Path.GetFullPath(tempPath).StartsWith(TempDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException("Only scratch files from NewTempPath can be imported.", nameof(tempPath));
        var path = tempPath;
        try
        {
            (var written, path) = await BlobStoreExtensions.SealFileAsync(tempPath, () => NewTempPath(), _keys, cancellationToken);
            await CommitAsync(written, path, cancellationToken);
            return new BlobRef(written.Sha256, written.Size);
        }
        finally
        {
            File.Delete(tempPath);
            File.Delete(path);
        }
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(string sha256, CancellationToken cancellationToken)
    {
        var file = new FileStream(PathOf(sha256), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return BlobStoreExtensions.OpenAsync(file, sha256, _keys, null, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<string> GetLocalCopyAsync(string sha256, CancellationToken cancellationToken)
    {
        if (_copies is not null && await _keys!.FindAsync(sha256, cancellationToken) is not null)
        {
            return await _copies.GetAsync(sha256, async (path, ct) =>
                await BlobStoreExtensions.CopyToFileAsync(await OpenReadAsync(sha256, ct), path, ct), cancellationToken);
        }
        // A plaintext blob is its own local copy; it is verified on every use, since nothing else watches the disk under it.
        var stored = PathOf(sha256);
        var actual = await BlobStoreExtensions.HashFileAsync(stored, cancellationToken);
        return actual == sha256 ? stored : throw new CorruptBlobException(sha256, $"its content hashes to {actual}");
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoredBlob> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask;
        foreach (var file in new DirectoryInfo(_root).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (BlobStoreExtensions.IsSha256(file.Name)) yield return new StoredBlob(file.Name, file.Length, file.LastWriteTimeUtc);
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string sha256, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(sha256));
        _copies?.Remove(sha256);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<int> CleanPartialAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var file in new DirectoryInfo(_root).EnumerateFiles("*" + PartialSuffix, SearchOption.AllDirectories))
        {
            if (file.LastWriteTimeUtc >= before.UtcDateTime) continue;
            file.Delete();
            removed++;
        }
        return Task.FromResult(removed);
    }

    /// <inheritdoc />
    public int CleanTemp() => BlobStoreExtensions.EmptyFolder(TempDirectory);

    /// <inheritdoc />
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        var probe = Path.Combine(_root, $".ready-{Guid.NewGuid():N}{PartialSuffix}");
        try
        {
            await File.WriteAllBytesAsync(probe, [1], cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BlobStoreUnavailableException($"the blob store {Location} cannot be written: {ex.Message}", ex);
        }
        finally
        {
            File.Delete(probe);
        }
    }

    private async Task CommitAsync(WrittenBlob written, string temp, CancellationToken ct)
    {
        var sha = written.Sha256;
        var final = PathOf(sha);
        if (File.Exists(final))
        {
            // Same bytes already stored (as they were: sealed or not). Refresh the write time so that the collector's
            // grace period covers the new reference too.
            File.SetLastWriteTimeUtc(final, DateTime.UtcNow);
            return;
        }
        await BlobStoreExtensions.ClaimAsync(written, temp, () => NewTempPath(), _keys, ct);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        // Into the final folder first (a copy when scratch space is another file system), then one atomic rename.
        var partial = $"{final}.{Guid.NewGuid():N}{PartialSuffix}";
        File.Move(temp, partial);
        try
        {
            using (var file = new FileStream(partial, FileMode.Open, FileAccess.ReadWrite)) file.Flush(flushToDisk: true);
            File.Move(partial, final, overwrite: false);
        }
        catch (IOException) when (File.Exists(final))
        {
            // Another writer (another node) stored the same bytes first: theirs stays.
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private string PathOf(string sha256)
    {
        // The only place a path is built from a hash: refuse anything that is not one.
        BlobStoreExtensions.CheckSha256(sha256);
        return Path.Combine(_root, sha256[..2], sha256);
    }
}
